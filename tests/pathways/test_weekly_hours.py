"""SPEC C11: the hours a week where they are decided, a person's target, and the meter."""

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.catalogue.models import Action
from app.conventions.models import ConventionYear
from app.core.caller import Caller
from app.indicators.engine.queries import HOURS_INDICATORS
from app.outbox.models import Change
from app.pathways import weekly_hours
from app.pathways.column_reads import pathway_dicts_by_id
from app.pathways.engagement import target_on
from app.pathways.models import BeneficiaryEngagement, Pathway
from app.pathways.reads import read_models
from app.pathways.retention import apply_retention
from tests import factories
from tests.pathways.helpers import API, beneficiary_of, pathway_body, stored_pathway

D = date(2019, 6, 15)
ADMIN = Caller(key_id=None, name="test", role=Role.admin)


@pytest.fixture
def hours_world(session: Session, make_key):
    """Two actions (20 h and unknown), a convention of each, the first with its 2019 line at 24 h."""
    aci = factories.action(session, weekly_hours=20)
    other = factories.action(session)
    operator = factories.operator(session)
    aci_convention = factories.convention(
        session, action_id=aci.id, operator_id=operator.id, years={2019: {"places": 10, "weekly_hours": 24}}
    )
    other_convention = factories.convention(session, action_id=other.id, operator_id=operator.id)
    session.commit()
    return {
        "aci": aci,
        "other": other,
        "aci_convention": aci_convention,
        "other_convention": other_convention,
        "operator": operator,
        "operator_key": make_key(Role.operator, operator_id=operator.id),
    }


def _get(client, headers, pathway_id):
    answer = client.get(f"{API}/pathways/{pathway_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _meter(client, headers, **params):
    answer = client.get(f"{API}/weekly-hours", params={"on": D.isoformat(), **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- hours where they are decided ----------------------------------------------------------------


def test_effective_hours_are_the_pathways_else_the_years_else_the_actions(client, session, admin, hours_world):
    w = hours_world
    own = stored_pathway(session, w["aci_convention"].id, ref="H-1", entered_on=date(2019, 3, 1), weekly_hours=10.5)
    of_year = stored_pathway(session, w["aci_convention"].id, ref="H-2", entered_on=date(2019, 3, 1))
    # Started in 2020, a year the convention has no line for: the action's.
    of_action = stored_pathway(session, w["aci_convention"].id, ref="H-3", entered_on=date(2020, 1, 6))
    unknown = stored_pathway(session, w["other_convention"].id, ref="H-4", entered_on=date(2019, 3, 1))
    expected = {own.id: (10.5, 10.5), of_year.id: (None, 24.0), of_action.id: (None, 20.0), unknown.id: (None, None)}
    for pathway_id, (own_hours, effective) in expected.items():
        read = _get(client, admin, pathway_id)
        assert (read["weekly_hours"], read["effective_weekly_hours"]) == (own_hours, effective)


def test_hours_are_written_on_create_patch_and_entry(client, session, admin, hours_world):
    w = hours_world
    created = client.post(
        f"{API}/pathways", json=pathway_body(w["other_convention"].id, ref="H-5", weekly_hours=12), headers=admin
    )
    assert created.status_code == 201, created.text
    assert (created.json()["weekly_hours"], created.json()["effective_weekly_hours"]) == (12.0, 12.0)
    pathway_id = created.json()["id"]
    entry = client.post(
        f"{API}/pathways/{pathway_id}/entry", json={"entered_on": "2019-01-14", "weekly_hours": 17.5}, headers=admin
    )
    assert entry.status_code == 200, entry.text
    assert entry.json()["effective_weekly_hours"] == 17.5
    patched = client.patch(f"{API}/pathways/{pathway_id}", json={"weekly_hours": None}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["weekly_hours"], patched.json()["effective_weekly_hours"]) == (None, None)
    too_many = client.patch(f"{API}/pathways/{pathway_id}", json={"weekly_hours": 61}, headers=admin)
    assert too_many.status_code == 422


def test_action_and_year_hours_are_read_and_written(client, session, admin, hours_world):
    w = hours_world
    answer = client.patch(
        f"{API}/actions/{w['other'].code}", json={"weekly_hours": 7.5, "duration_weeks": 12}, headers=admin
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["weekly_hours"], answer.json()["duration_weeks"]) == (7.5, 12)
    assert (
        client.patch(f"{API}/actions/{w['other'].code}", json={"duration_weeks": 0}, headers=admin).status_code == 422
    )
    line = client.put(
        f"{API}/conventions/{w['other_convention'].id}/years/2019", json={"weekly_hours": 26}, headers=admin
    )
    assert line.status_code in (200, 201), line.text
    assert line.json()["years"][0]["weekly_hours"] == 26.0 if "years" in line.json() else line.json()["weekly_hours"]


def test_the_rule_reads_the_same_in_python_and_in_sql(session, hours_world):
    """The read models (sources read, `effective` applied in Python) and the feed's column reads
    (`effective_sql`) agree on random pathways, on each database."""
    w = hours_world
    chooser = random.Random(33)
    ids = []
    for year in (2018, 2019, 2020):
        for convention in (w["aci_convention"], w["other_convention"]):
            if (
                chooser.random() < 0.5
                and session.exec(
                    select(ConventionYear).where(
                        ConventionYear.convention_id == convention.id, ConventionYear.year == year
                    )
                ).first()
                is None
            ):
                session.add(
                    ConventionYear(convention_id=convention.id, year=year, weekly_hours=chooser.choice([None, 8]))
                )
    for _ in range(40):
        convention = chooser.choice([w["aci_convention"], w["other_convention"]])
        entered = chooser.choice([None, date(2018, 5, 1), date(2019, 5, 1), date(2020, 5, 1)])
        pathway = factories.pathway(
            session,
            convention_id=convention.id,
            prescribed_on=date(2018, 2, 1) if entered is None else entered,
            entered_on=entered,
            weekly_hours=chooser.choice([None, None, 0, 3.25, 35]),
        )
        ids.append(pathway.id)
    session.commit()
    pathways = session.exec(select(Pathway).where(Pathway.id.in_(ids))).all()
    by_python = {
        read.id: read.effective_weekly_hours for read in read_models(session=session, pathways=pathways, caller=ADMIN)
    }
    by_sql = {
        i: read["effective_weekly_hours"]
        for i, read in pathway_dicts_by_id(session=session, caller=ADMIN, ids=ids).items()
    }
    assert by_python == by_sql
    assert len({value for value in by_sql.values()}) > 2  # the data exercised more than one source


def test_effective_takes_the_first_known_source():
    assert weekly_hours.effective({"pathway": None, "convention_year": 0.0, "action": 20}) == 0.0
    assert weekly_hours.effective({"pathway": None, "convention_year": None, "action": None}) is None
    assert weekly_hours.effective({"pathway": 4, "convention_year": 0.0, "action": 20}) == 4.0


# --- the meter -----------------------------------------------------------------------------------


def test_a_person_in_two_actions_at_once_sums_both(client, session, admin, hours_world):
    w = hours_world
    stored_pathway(session, w["aci_convention"].id, ref="M-1", entered_on=date(2019, 1, 7), weekly_hours=6)
    stored_pathway(session, w["other_convention"].id, ref="M-1", entered_on=date(2019, 2, 4), weekly_hours=4.5)
    stored_pathway(session, w["other_convention"].id, ref="M-1b", entered_on=date(2019, 2, 4))
    person = beneficiary_of(session, "M-1")
    page = _meter(client, admin, beneficiary_ref="M-1")
    assert page["total"] == 1
    (item,) = page["items"]
    assert (item["beneficiary_id"], item["weekly_hours"], item["target"], item["unknown"]) == (person.id, 10.5, 15.0, 0)
    assert sorted((p["action"], p["weekly_hours"]) for p in item["pathways"]) == sorted(
        [(w["aci"].code, 6.0), (w["other"].code, 4.5)]
    )
    assert all("id" in p for p in item["pathways"])
    unknown = _meter(client, admin, beneficiary_ref="M-1b")["items"][0]
    assert (unknown["weekly_hours"], unknown["unknown"]) == (0.0, 1)


def test_an_exit_the_day_before_does_not_count_one_on_the_day_does(client, session, admin, hours_world):
    w = hours_world
    common = {"entered_on": date(2019, 1, 7), "exit_reason": "training"}
    stored_pathway(session, w["aci_convention"].id, ref="M-2", exited_on=D - timedelta(days=1), **common)
    stored_pathway(session, w["other_convention"].id, ref="M-2", exited_on=D, weekly_hours=5, **common)
    stored_pathway(session, w["other_convention"].id, ref="M-3", entered_on=D + timedelta(days=1), weekly_hours=5)
    stored_pathway(session, w["aci_convention"].id, ref="M-4", prescribed_on=date(2019, 1, 7))  # never entered
    (item,) = _meter(client, admin, beneficiary_ref="M-2")["items"]
    assert (item["weekly_hours"], len(item["pathways"])) == (5.0, 1)
    for ref in ("M-3", "M-4"):
        assert _meter(client, admin, beneficiary_ref=ref)["total"] == 0


def test_the_default_filter_is_below_each_persons_target_and_below_overrides_it(client, session, admin, hours_world):
    w = hours_world
    stored_pathway(session, w["aci_convention"].id, ref="M-5", entered_on=date(2019, 1, 7))  # 24 h: not below
    stored_pathway(session, w["other_convention"].id, ref="M-6", entered_on=date(2019, 1, 7), weekly_hours=14.5)
    listed = {item["beneficiary_id"] for item in _meter(client, admin)["items"]}
    assert beneficiary_of(session, "M-6").id in listed and beneficiary_of(session, "M-5").id not in listed
    listed = {item["beneficiary_id"] for item in _meter(client, admin, below=30)["items"]}
    assert beneficiary_of(session, "M-5").id in listed
    by_action = _meter(client, admin, below=30, action=w["other"].code)["items"]
    assert [item["beneficiary_id"] for item in by_action] == [beneficiary_of(session, "M-6").id]


def test_an_exemption_lowers_the_target_until_its_end_day(client, session, admin, hours_world):
    w = hours_world
    stored_pathway(session, w["other_convention"].id, ref="M-7", entered_on=date(2019, 1, 7), weekly_hours=8)
    person = beneficiary_of(session, "M-7")
    put = client.put(
        f"{API}/beneficiaries/{person.id}/engagement",
        json={"weekly_hours_target": 6, "reason": "health_or_disability", "until": D.isoformat()},
        headers=admin,
    )
    assert put.status_code == 201, put.text
    on_the_day = _meter(client, admin, beneficiary_ref="M-7")
    assert on_the_day["total"] == 0  # 8 h is not below 6
    assert _meter(client, admin, beneficiary_ref="M-7", below=100)["items"][0]["target"] == 6.0
    day_after = _meter(client, admin, beneficiary_ref="M-7", on=(D + timedelta(days=1)).isoformat())
    assert day_after["items"][0]["target"] == 15.0
    assert target_on(session.get(BeneficiaryEngagement, person.id), D, 15) == 6
    assert target_on(session.get(BeneficiaryEngagement, person.id), D + timedelta(days=1), 15) == 15


def test_a_portal_sees_its_persons_and_only_its_own_pathways_ids(client, session, make_key, hours_world):
    w = hours_world
    portal = make_key(Role.portal)
    other_portal = make_key(Role.portal)
    created = client.post(
        f"{API}/pathways", json=pathway_body(w["other_convention"].id, ref="M-8", weekly_hours=3), headers=portal
    )
    assert created.status_code == 201, created.text
    mine = created.json()["id"]
    session.get(Pathway, mine).entered_on = date(2019, 1, 14)
    session.commit()
    stored_pathway(session, w["aci_convention"].id, ref="M-8", entered_on=date(2019, 1, 7), weekly_hours=2)
    stored_pathway(session, w["aci_convention"].id, ref="M-9", entered_on=date(2019, 1, 7), weekly_hours=2)
    page = _meter(client, portal)
    assert [item["beneficiary_id"] for item in page["items"]] == [beneficiary_of(session, "M-8").id]
    (item,) = page["items"]
    assert item["weekly_hours"] == 5.0
    assert sorted(p.get("id") or 0 for p in item["pathways"]) == [0, mine]
    assert _meter(client, other_portal)["total"] == 0
    # A person the portal only prescribed for (no entry yet) is its person too: their hours
    # elsewhere show, without the ids of pathways it did not create.
    waiting = client.post(f"{API}/pathways", json=pathway_body(w["other_convention"].id, ref="M-10"), headers=portal)
    assert waiting.status_code == 201, waiting.text
    stored_pathway(session, w["aci_convention"].id, ref="M-10", entered_on=date(2019, 1, 7), weekly_hours=4)
    (item,) = _meter(client, portal, beneficiary_ref="M-10")["items"]
    assert (item["weekly_hours"], item["pathways"]) == (
        4.0,
        [{"action": w["aci"].code, "convention_id": w["aci_convention"].id, "weekly_hours": 4.0}],
    )


@pytest.mark.parametrize("role", [Role.operator, Role.reader])
def test_operators_and_readers_cannot_read_the_meter(client, make_key, hours_world, role):
    headers = make_key(role, operator_id=hours_world["operator"].id if role == Role.operator else None)
    assert client.get(f"{API}/weekly-hours", headers=headers).status_code == 403
    assert client.get(f"{API}/weekly-hours").status_code == 401


def test_the_meter_is_an_audited_read_that_does_not_name_the_person(client, session, admin, hours_world):
    answer = client.get(f"{API}/weekly-hours", params={"beneficiary_ref": "M-SECRET"}, headers=admin)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    event = session.exec(select(AuditEvent).where(AuditEvent.entity == "weekly_hours")).all()[-1]
    assert event.action == "list" and "M-SECRET" not in str(event.details)


# --- the target ----------------------------------------------------------------------------------


def test_the_engagement_is_read_written_and_removed_by_who_has_a_pathway_of_the_person(
    client, session, admin, make_key, hours_world
):
    w = hours_world
    stored_pathway(session, w["aci_convention"].id, ref="E-1", entered_on=date(2019, 1, 7))
    person = beneficiary_of(session, "E-1")
    path = f"{API}/beneficiaries/{person.id}/engagement"
    operator = w["operator_key"]
    stranger = make_key(Role.operator, operator_id=factories.operator(session).id)
    assert client.get(path, headers=operator).status_code == 404  # none yet
    body = {"weekly_hours_target": 0, "reason": "family_situation"}
    assert client.put(path, json=body, headers=stranger).status_code == 404
    assert client.put(path, json=body, headers=make_key(Role.reader)).status_code == 403
    assert client.put(path, json=body | {"reason": "holidays"}, headers=operator).status_code == 422
    assert client.put(path, json=body | {"weekly_hours_target": 36}, headers=operator).status_code == 422
    assert client.put(path, json=body, headers=operator).status_code == 201
    assert client.put(path, json=body | {"weekly_hours_target": 7.5}, headers=operator).status_code == 200
    read = client.get(path, headers=admin)
    assert read.status_code == 200 and read.headers["Cache-Control"] == "no-store"
    assert read.json() | {"updated_at": None} == {
        "beneficiary_id": person.id,
        "weekly_hours_target": 7.5,
        "reason": "family_situation",
        "until": None,
        "default_target": 15.0,
        "updated_at": None,
    }
    assert client.get(path, headers=stranger).status_code == 404
    reads = session.exec(select(AuditEvent).where(AuditEvent.entity == "engagement", AuditEvent.action == "read")).all()
    assert [(event.entity_id, event.details) for event in reads] == [(str(person.id), {"rows": 1})]
    assert client.delete(path, headers=operator).status_code == 204
    assert client.get(path, headers=admin).status_code == 404


def test_the_engagement_never_reaches_the_feed_nor_webhooks(client, session, admin, hours_world):
    w = hours_world
    stored_pathway(session, w["aci_convention"].id, ref="E-2", entered_on=date(2019, 1, 7))
    person = beneficiary_of(session, "E-2")
    before = session.exec(select(Change.cursor).order_by(Change.cursor.desc())).first()
    answer = client.put(
        f"{API}/beneficiaries/{person.id}/engagement",
        json={"weekly_hours_target": 4, "reason": "other"},
        headers=admin,
    )
    assert answer.status_code == 201
    # No row of the outbox (which the feed and the webhooks' worker read) was written.
    assert session.exec(select(Change.cursor).order_by(Change.cursor.desc())).first() == before
    feed = client.get(f"{API}/changes", params={"limit": 1000}, headers=admin)
    assert feed.status_code == 200 and "weekly_hours_target" not in feed.text


def test_retention_erases_the_engagement_with_the_person(client, session, admin, hours_world):
    w = hours_world
    stored_pathway(
        session,
        w["aci_convention"].id,
        ref="E-3",
        entered_on=date(2019, 1, 7),
        exited_on=date(2019, 2, 1),
        exit_reason="training",
    )
    person_id = beneficiary_of(session, "E-3").id
    session.add(BeneficiaryEngagement(beneficiary_id=person_id, weekly_hours_target=5, reason="other"))
    session.commit()
    apply_retention(session=session, caller=ADMIN, ended_before=date(2019, 6, 1), dry_run=False)
    session.commit()
    session.expire_all()
    assert (
        session.exec(select(BeneficiaryEngagement).where(BeneficiaryEngagement.beneficiary_id == person_id)).first()
        is None
    )
    assert beneficiary_of(session, "E-3") is None


def test_the_meter_sends_as_many_statements_for_two_persons_as_for_twenty(client, session, admin, hours_world):
    w = hours_world

    def statements_for(persons: int, prefix: str) -> int:
        for number in range(persons):
            ref = f"{prefix}-{number}"
            stored_pathway(session, w["aci_convention"].id, ref=ref, entered_on=date(2019, 1, 7), weekly_hours=3)
            stored_pathway(session, w["other_convention"].id, ref=ref, entered_on=date(2019, 1, 7))
        statements: list[str] = []
        connection = session.connection()

        def count(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(connection, "before_cursor_execute", count)
        try:
            page = _meter(client, admin, action=w["other"].code, size=25)
        finally:
            event.remove(connection, "before_cursor_execute", count)
        assert len(page["items"]) == persons
        assert all(len(item["pathways"]) == 2 for item in page["items"])
        # The key's lookup and its last use are the key cache's business, not the meter's.
        return len([sql for sql in statements if "pathway" in sql and sql.lstrip().upper().startswith("SELECT")])

    # Each in a convention of its own, so that the first group's persons are not the second's.
    two = statements_for(2, "Q2")
    w["other_convention"] = factories.convention(session, action_id=factories.action(session).id)
    w["other"] = session.get(Action, w["other_convention"].action_id)
    session.commit()
    assert statements_for(20, "Q20") == two == 2


def test_the_indicators_are_listed_with_their_units(client):
    listed = {item["code"]: item["unit"] for item in client.get(f"{API}/reference/indicators").json()}
    assert {code: listed.get(code) for code in HOURS_INDICATORS} == {
        "persons_in_progress": "count",
        "mean_weekly_hours": "hours",
        "persons_below_target": "count",
        "share_below_target": "rate",
    }
