"""SPEC C7: prescriptions left unanswered expire without any request (app/pathways/expiry.py):
each expiry ends the prescription on its due day, frees its seat or its place in the queue,
promotes the waiting list, is audited and moves the feed; a second run finds nothing to do."""

from datetime import date, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.cli import cli
from app.core.time import today
from app.pathways.expiry import ExpiryCounts, expire_prescriptions
from app.pathways.models import Pathway
from tests import factories
from tests.pathways.helpers import API, consolidate, recounted_seats, stored_seats


@pytest.fixture
def three_seats(session, make_key):
    """A convention running today with three seats, and its operator's key."""
    this_year = today().year
    convention = factories.convention(
        session,
        start_on=date(this_year - 1, 1, 1),
        end_on=date(this_year + 1, 12, 31),
        years={this_year: {"places": 3}},
    )
    session.commit()
    return convention, make_key("operator", operator_id=convention.operator_id)


def prescribed(session, convention, days_ago: int, **fields) -> Pathway:
    pathway = factories.pathway(
        session, convention_id=convention.id, prescribed_on=today() - timedelta(days=days_ago), **fields
    )
    session.commit()
    return pathway


def read(client, headers, pathway_id) -> dict:
    answer = client.get(f"{API}/pathways/{pathway_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def feed_cursors(client, headers) -> dict[tuple[str, str], int]:
    """Each entity of the feed (kind, id) at the cursor of its latest change."""
    items = client.get(f"{API}/changes", params={"limit": 1000}, headers=headers).json()["items"]
    return {(item["kind"], str(item["id"])): item["cursor"] for item in items}


def test_an_unanswered_and_a_waitlisted_prescription_expire_and_free_their_places(client, session, three_seats, admin):
    convention, operator = three_seats
    # The seats: one taken 31 days ago, unanswered; one answered; one too recent to expire. The
    # queue: one waiting for 91 days, one for 10.
    unanswered = prescribed(session, convention, 31)
    accepted = prescribed(session, convention, 40, decision="accepted", decided_on=today() - timedelta(days=39))
    recent = prescribed(session, convention, 29)
    long_waiting = prescribed(session, convention, 91, waitlisted=True)
    waiting = prescribed(session, convention, 10, waitlisted=True)
    assert stored_seats(session)[convention.id] == (0, 3, 2)
    before = feed_cursors(client, admin)

    counts = expire_prescriptions(session=session, today=today())
    session.commit()
    assert counts == ExpiryCounts(prescribed=1, waitlisted=1, promoted=1, left_in_consolidated_years=0)

    first = read(client, operator, unanswered.id)
    assert (first["status"], first["expired_on"], first["decision"], first["cancelled_on"]) == (
        "expired",
        (unanswered.prescribed_on + timedelta(days=30)).isoformat(),
        None,
        None,
    )
    second = read(client, operator, long_waiting.id)
    assert (second["status"], second["expired_on"], second["waitlist_position"]) == (
        "expired",
        (long_waiting.prescribed_on + timedelta(days=90)).isoformat(),
        None,
    )
    assert read(client, operator, waiting.id)["status"] == "prescribed"  # promoted to the freed seat
    assert read(client, operator, accepted.id)["status"] == "prescribed"
    assert read(client, operator, recent.id)["status"] == "prescribed"
    session.expire_all()
    assert stored_seats(session)[convention.id] == recounted_seats(session)[convention.id] == (0, 3, 0)

    audited = session.exec(
        select(AuditEvent.entity_id, AuditEvent.action, AuditEvent.actor).where(
            AuditEvent.action.in_(["expire", "promote"])
        )
    ).all()
    assert sorted(audited) == sorted(
        [
            (str(unanswered.id), "expire", "expiry"),
            (str(long_waiting.id), "expire", "expiry"),
            (str(waiting.id), "promote", "expiry"),
        ]
    )
    after = feed_cursors(client, admin)
    moved = {key for key, cursor in after.items() if cursor != before.get(key)}
    assert moved == {
        ("pathway", str(unanswered.id)),
        ("pathway", str(long_waiting.id)),
        ("pathway", str(waiting.id)),
        ("availability", str(convention.id)),
    }
    # Run again: nothing left to do, nothing written.
    audited = session.exec(select(AuditEvent.id).where(AuditEvent.action != "read")).all()
    assert expire_prescriptions(session=session, today=today()) == ExpiryCounts()
    session.commit()
    assert session.exec(select(AuditEvent.id).where(AuditEvent.action != "read")).all() == audited
    assert feed_cursors(client, admin) == after


def test_the_delays_come_from_the_settings(session, three_seats, monkeypatch):
    from app.core.config import get_settings

    convention, _operator = three_seats
    pathway = prescribed(session, convention, 8)
    monkeypatch.setattr(get_settings(), "decision_days", 7)
    assert expire_prescriptions(session=session, today=today()).prescribed == 1
    session.expire_all()
    assert session.get(Pathway, pathway.id).status == "expired"


def test_an_expiry_in_a_consolidated_year_waits_for_it_to_reopen(session):
    convention = factories.convention(session, start_on=date(2019, 1, 1), end_on=date(2019, 12, 31))
    pathway = factories.pathway(session, convention_id=convention.id, prescribed_on=date(2019, 3, 1))
    session.commit()
    consolidate(session, 2019)
    counts = expire_prescriptions(session=session, today=today())
    assert counts.left_in_consolidated_years >= 1 and counts.prescribed == 0
    session.expire_all()
    assert session.get(Pathway, pathway.id).status == "prescribed"


def test_pdi_expire_runs_it_once_and_prints_the_counts(engine):
    result = CliRunner().invoke(cli, ["expire"])
    assert result.exit_code == 0, result.output
    assert "expired:" in result.output and "promoted from the waiting lists:" in result.output
