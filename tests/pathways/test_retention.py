"""`pdi retention` (SPEC C2): pathways ended before a day are detached from their person (the
pseudonym link and insee_code go), every figure stays the same, the same file number posted
again starts a new person; counted, audited, idempotent, with a dry run."""

from datetime import date, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.cli import cli
from app.core.caller import CLI
from app.core.errors import InvalidInput
from app.core.time import today
from app.pathways.models import Beneficiary, Pathway
from app.pathways.retention import apply_retention, default_cut_off
from seed.demo import generate_demo
from tests.pathways.helpers import API, beneficiary_of, pathway_body

runner = CliRunner()
CHARACTERISTICS = {
    "birth_year": 1980,
    "sex": "M",
    "insee_code": "72181",
    "territory": "rural",
    "household": "couple_no_child",
}


def _post(client, headers, body) -> dict:
    response = client.post(f"{API}/pathways", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _figures(client, headers) -> dict:
    """Everything a figure could show: the bilan, and the indicators by every grouping at once."""
    bilan = client.get(f"{API}/bilan", params={"years": "2018,2019,2020", "as_of": "2020-12-31"}, headers=headers)
    indicators = client.get(
        f"{API}/indicators",
        params={
            "from": "2018-01-01",
            "to": "2020-12-31",
            "as_of": "2020-12-31",
            "group_by": ["action", "territory", "year"],
        },
        headers=headers,
    )
    assert bilan.status_code == indicators.status_code == 200
    return {"bilan": bilan.json(), "indicators": indicators.json()}


@pytest.mark.slow
def test_the_bilan_and_every_indicator_are_unchanged(client, session, admin):
    generate_demo(session=session)
    session.commit()
    before = _figures(client, admin)

    report = apply_retention(session=session, caller=CLI, ended_before=date(2020, 7, 1), dry_run=False)
    session.commit()

    # The demo holds people who went from one action to another: some keep a later pathway.
    assert report.pathways_detached > 1000 and report.persons_forgotten > 1000 and report.persons_kept > 0
    assert _figures(client, admin) == before
    leftover = session.exec(
        select(Pathway.id).where(
            Pathway.beneficiary_id.is_not(None),
            (Pathway.exited_on < date(2020, 7, 1)) | (Pathway.cancelled_on < date(2020, 7, 1)),
        )
    ).first()
    assert leftover is None


def test_a_detached_pathway_keeps_all_but_the_link_and_the_commune(client, session, world, admin):
    ended = _post(
        client,
        world.operator_key,
        pathway_body(
            world.convention.id,
            ref="RSA-RET-1",
            beneficiary=CHARACTERISTICS,
            entered_on="2019-01-14",
            exited_on="2019-03-01",
            exit_reason="training",
            hours=120,
        ),
    )
    cancelled = _post(client, world.operator_key, pathway_body(world.convention.id, ref="RSA-RET-2"))
    assert (
        client.post(
            f"{API}/pathways/{cancelled['id']}/cancel",
            json={"cancelled_on": "2019-02-01", "cancel_reason": "moved away"},
            headers=world.operator_key,
        ).status_code
        == 200
    )
    recent = _post(
        client, world.operator_key, pathway_body(world.convention.id, ref="RSA-RET-3", entered_on="2019-06-03")
    )
    old_person = beneficiary_of(session, "RSA-RET-1").id

    report = apply_retention(session=session, caller=CLI, ended_before=date(2019, 6, 1), dry_run=False)
    session.commit()
    assert (report.pathways_detached, report.persons_forgotten, report.persons_kept) == (2, 2, 0)

    after = client.get(f"{API}/pathways/{ended['id']}", headers=world.operator_key).json()
    assert after["beneficiary_id"] is None
    assert after["beneficiary"] == {**CHARACTERISTICS, "insee_code": None, "self_employed": None}
    for name in ("convention_id", "prescribed_on", "entered_on", "exited_on", "exit_reason", "hours", "status"):
        assert after[name] == ended[name], name
    assert client.get(f"{API}/pathways/{recent['id']}", headers=admin).json()["beneficiary_id"] is not None
    # The pseudonyms are gone: the same file number starts a new person, who may enter again.
    assert beneficiary_of(session, "RSA-RET-1") is None and beneficiary_of(session, "RSA-RET-2") is None
    again = _post(
        client, world.operator_key, pathway_body(world.convention.id, ref="RSA-RET-1", prescribed_on="2019-06-10")
    )
    again_person = client.get(f"{API}/pathways/{again['id']}", headers=admin).json()["beneficiary_id"]
    assert again_person not in (None, old_person)
    stored = session.get(Pathway, ended["id"])
    assert stored.person_key == old_person != session.get(Pathway, again["id"]).person_key


def test_a_person_with_a_later_pathway_keeps_their_pseudonym(client, session, world):
    _post(
        client,
        world.operator_key,
        pathway_body(
            world.convention.id,
            ref="RSA-RET-4",
            entered_on="2019-01-14",
            exited_on="2019-02-01",
            exit_reason="training",
        ),
    )
    later = _post(
        client,
        world.operator_key,
        pathway_body(world.convention.id, ref="RSA-RET-4", prescribed_on="2019-03-01", entered_on="2019-03-04"),
    )
    report = apply_retention(session=session, caller=CLI, ended_before=date(2019, 6, 1), dry_run=False)
    session.commit()
    assert (report.pathways_detached, report.persons_forgotten, report.persons_kept) == (1, 0, 1)
    person = beneficiary_of(session, "RSA-RET-4")
    assert person is not None and session.get(Pathway, later["id"]).beneficiary_id == person.id
    # Still the same person: a stay overlapping the detached one is refused as before.
    overlapping = client.post(
        f"{API}/pathways",
        json=pathway_body(
            world.convention.id,
            ref="RSA-RET-4",
            entered_on="2019-01-20",
            exited_on="2019-01-25",
            exit_reason="training",
        ),
        headers=world.operator_key,
    )
    assert overlapping.status_code == 409


def test_a_dry_run_changes_nothing_and_a_second_run_finds_nothing(client, session, world):
    _post(
        client,
        world.operator_key,
        pathway_body(
            world.convention.id,
            ref="RSA-RET-5",
            entered_on="2019-01-14",
            exited_on="2019-02-01",
            exit_reason="training",
        ),
    )
    events = lambda: session.exec(select(AuditEvent).where(AuditEvent.entity == "retention")).all()  # noqa: E731
    dry = apply_retention(session=session, caller=CLI, ended_before=date(2019, 6, 1), dry_run=True)
    assert (dry.pathways_detached, dry.persons_forgotten) == (1, 1) and dry.dry_run
    assert beneficiary_of(session, "RSA-RET-5") is not None and events() == []

    first = apply_retention(session=session, caller=CLI, ended_before=date(2019, 6, 1), dry_run=False)
    session.commit()
    assert (first.pathways_detached, first.persons_forgotten) == (1, 1)
    [event] = events()
    assert (event.actor, event.entity_id, event.action) == ("cli", "2019-06-01", "detach")
    assert event.details == {"pathways_detached": 1, "persons_forgotten": 1, "persons_kept": 0, "diagnostics_erased": 0}

    second = apply_retention(session=session, caller=CLI, ended_before=date(2019, 6, 1), dry_run=False)
    assert (second.pathways_detached, second.persons_forgotten, second.persons_kept) == (0, 0, 0)
    assert len(events()) == 1  # nothing done, nothing noted


def test_the_cut_off_cannot_be_in_the_future(session):
    with pytest.raises(InvalidInput):
        apply_retention(session=session, caller=CLI, ended_before=today() + timedelta(days=1), dry_run=True)


def test_the_default_cut_off_is_retention_years_ago():
    assert default_cut_off(years=5, on=date(2026, 12, 1)) == date(2021, 12, 1)
    assert default_cut_off(years=1, on=date(2024, 2, 29)) == date(2023, 2, 28)


# --- the command (runs on the committed test database, which holds no pathway) -------------------


def test_cli_prints_the_counts(engine):
    dry = runner.invoke(cli, ["retention", "--ended-before", "2019-06-01", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "pathways ended before 2019-06-01: would detach 0" in dry.output and "dry run" in dry.output
    real = runner.invoke(cli, ["retention", "--ended-before", "2019-06-01"])
    assert real.exit_code == 0, real.output
    assert "detached 0; persons forgotten (pseudonym deleted): 0" in real.output


def test_cli_takes_its_default_day_from_the_settings(engine, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setenv("PDI_RETENTION_YEARS", "3")
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli, ["retention", "--dry-run"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"ended before {default_cut_off(years=3)}:" in result.output


@pytest.mark.parametrize("day", ["2019-13-01", "01/06/2019", "0.5", "2019-6-1"])
def test_cli_refuses_a_day_that_is_not_iso(engine, day):
    result = runner.invoke(cli, ["retention", "--ended-before", day])
    assert result.exit_code == 2
    assert "error" in result.output


def test_beneficiary_ids_are_never_reused(session, world, client, admin):
    """A forgotten person's id lives on as their pathways' person key: a new person must not get it."""
    _post(
        client,
        world.operator_key,
        pathway_body(
            world.convention.id,
            ref="RSA-RET-LAST",
            entered_on="2019-01-14",
            exited_on="2019-02-01",
            exit_reason="training",
        ),
    )
    highest = session.exec(select(Beneficiary.id).order_by(Beneficiary.id.desc())).first()
    apply_retention(session=session, caller=CLI, ended_before=date(2019, 6, 1), dry_run=False)
    session.commit()
    newcomer = _post(client, world.operator_key, pathway_body(world.convention.id, ref="RSA-RET-NEW"))
    assert client.get(f"{API}/pathways/{newcomer['id']}", headers=admin).json()["beneficiary_id"] > highest
