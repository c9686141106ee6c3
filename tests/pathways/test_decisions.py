"""SPEC C7: the operator accepts or refuses a prescription, the prescriber withdraws it; every
transition, every refused one, who may, and the seats a refusal or a withdrawal frees."""

from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from app.audit.models import AuditEvent
from app.core.time import today
from app.outbox.models import Change
from tests import factories
from tests.pathways.helpers import API, assert_problem, consolidate, pathway_body, recounted_seats, stored_seats

ACCEPT = {"accepted_on": "2019-01-15", "appointment_on": "2019-01-20"}
REFUSE = {"refused_on": "2019-01-16", "refusal_reason": "not_eligible", "comment": "hors critères"}
WITHDRAW = {"withdrawn_on": "2019-01-17", "reason": "orientée ailleurs"}


def prescribe(client, headers, convention_id, ref="RSA-C7-1", **fields) -> dict:
    answer = client.post(f"{API}/pathways", json=pathway_body(convention_id, ref, **fields), headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def read(client, headers, pathway_id) -> dict:
    answer = client.get(f"{API}/pathways/{pathway_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def post(client, headers, pathway_id, step, body):
    return client.post(f"{API}/pathways/{pathway_id}/{step}", json=body, headers=headers)


def audit_count(session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "read")).one()


def feed_cursor(session, pathway_id) -> int | None:
    session.expire_all()
    return session.exec(
        select(Change.cursor).where(Change.kind == "pathway", Change.entity_id == str(pathway_id))
    ).first()


def test_a_new_prescription_waits_for_an_answer(client, world, portal):
    pathway = prescribe(client, portal, world.convention.id)
    assert (pathway["status"], pathway["decision"], pathway["decided_on"]) == ("prescribed", "pending", None)


def test_the_operator_accepts_then_the_person_enters(client, session, world, portal):
    pathway = prescribe(client, portal, world.convention.id)
    answer = post(client, world.operator_key, pathway["id"], "accept", ACCEPT)
    assert answer.status_code == 200, answer.text
    stored = read(client, world.operator_key, pathway["id"])
    assert (stored["status"], stored["decision"], stored["decided_on"], stored["appointment_on"]) == (
        "prescribed",
        "accepted",
        "2019-01-15",
        "2019-01-20",
    )
    assert read(client, portal, pathway["id"])["decision"] == "accepted"  # the prescriber sees the answer

    # The same answer again: 200, nothing written, nothing new in the audit log nor the feed.
    audited, cursor = audit_count(session), feed_cursor(session, pathway["id"])
    again = post(client, world.operator_key, pathway["id"], "accept", ACCEPT)
    assert again.status_code == 200 and again.json() == answer.json()
    again = post(client, world.operator_key, pathway["id"], "accept", {"accepted_on": "2019-01-15"})
    assert again.status_code == 200 and again.json()["appointment_on"] == "2019-01-20"
    assert (audit_count(session), feed_cursor(session, pathway["id"])) == (audited, cursor)

    # Another answer is a conflict, and stores nothing.
    assert_problem(post(client, world.operator_key, pathway["id"], "refuse", REFUSE), 409)
    assert_problem(post(client, world.operator_key, pathway["id"], "accept", {"accepted_on": "2019-01-14"}), 409)
    assert read(client, world.operator_key, pathway["id"])["decision"] == "accepted"

    entered = post(client, world.operator_key, pathway["id"], "entry", {"entered_on": "2019-01-21"})
    assert entered.status_code == 200, entered.text
    assert (entered.json()["status"], entered.json()["decision"]) == ("active", "accepted")
    # After the entry no answer changes anything but the very same one.
    assert post(client, world.operator_key, pathway["id"], "accept", ACCEPT).status_code == 200
    assert_problem(post(client, portal, pathway["id"], "withdraw", WITHDRAW), 409)


def test_an_entry_needs_no_acceptance(client, world, portal):
    pathway = prescribe(client, portal, world.convention.id)
    entered = post(client, world.operator_key, pathway["id"], "entry", {"entered_on": "2019-01-21"})
    assert entered.status_code == 200, entered.text
    assert (entered.json()["status"], entered.json()["decision"]) == ("active", None)
    assert_problem(post(client, world.operator_key, pathway["id"], "accept", ACCEPT), 409)
    assert_problem(post(client, world.operator_key, pathway["id"], "refuse", REFUSE), 409)
    assert read(client, world.operator_key, pathway["id"])["decision"] is None


def test_the_operator_refuses_with_a_reason(client, session, world, portal):
    pathway = prescribe(client, portal, world.convention.id)
    answer = post(client, world.operator_key, pathway["id"], "refuse", REFUSE)
    assert answer.status_code == 200, answer.text
    stored = read(client, portal, pathway["id"])
    assert {name: stored[name] for name in ("status", "decision", "decided_on", "refusal_reason")} == {
        "status": "refused",
        "decision": "refused",
        "decided_on": "2019-01-16",
        "refusal_reason": "not_eligible",
    }
    assert (stored["refusal_comment"], stored["cancelled_on"], stored["cancel_reason"]) == ("hors critères", None, None)
    listed = client.get(f"{API}/pathways", params={"status": "refused"}, headers=world.operator_key).json()
    assert [item["id"] for item in listed["items"]] == [pathway["id"]]
    cancelled = client.get(f"{API}/pathways", params={"status": "cancelled"}, headers=world.operator_key).json()
    assert cancelled["total"] == 0

    audited, cursor = audit_count(session), feed_cursor(session, pathway["id"])
    for same in (REFUSE, {"refused_on": "2019-01-16", "refusal_reason": "not_eligible"}):
        again = post(client, world.operator_key, pathway["id"], "refuse", same)
        assert again.status_code == 200 and again.json()["refusal_comment"] == "hors critères"
    assert (audit_count(session), feed_cursor(session, pathway["id"])) == (audited, cursor)

    for contrary in (
        ("refuse", REFUSE | {"refusal_reason": "duplicate"}),
        ("refuse", REFUSE | {"refused_on": "2019-01-17"}),
        ("refuse", REFUSE | {"comment": "autre chose"}),
        ("accept", ACCEPT),
        ("withdraw", WITHDRAW),
        ("cancel", {"cancel_reason": "moved"}),
        ("entry", {"entered_on": "2019-01-21"}),
        ("exit", {"exited_on": "2019-01-21", "exit_reason": "training"}),
    ):
        step, body = contrary
        headers = portal if step == "withdraw" else world.operator_key
        assert_problem(post(client, headers, pathway["id"], step, body), 409)
    assert read(client, portal, pathway["id"]) == stored  # as the portal reads it (no FSE record)
    assert audit_count(session) == audited


def test_the_prescriber_withdraws(client, session, world, portal, admin):
    pathway = prescribe(client, portal, world.convention.id)
    answer = post(client, portal, pathway["id"], "withdraw", WITHDRAW)
    assert answer.status_code == 200, answer.text
    stored = read(client, world.operator_key, pathway["id"])
    assert (stored["status"], stored["withdrawn_on"], stored["withdrawal_reason"], stored["decision"]) == (
        "withdrawn",
        "2019-01-17",
        "orientée ailleurs",
        None,
    )
    audited = audit_count(session)
    assert post(client, portal, pathway["id"], "withdraw", WITHDRAW).status_code == 200
    assert post(client, portal, pathway["id"], "withdraw", {"withdrawn_on": "2019-01-17"}).status_code == 200
    assert audit_count(session) == audited
    assert_problem(post(client, portal, pathway["id"], "withdraw", WITHDRAW | {"withdrawn_on": "2019-01-18"}), 409)
    assert_problem(post(client, world.operator_key, pathway["id"], "accept", ACCEPT), 409)
    assert_problem(post(client, world.operator_key, pathway["id"], "refuse", REFUSE), 409)

    # An accepted prescription may still be withdrawn, by an admin too.
    accepted = prescribe(client, portal, world.convention.id, ref="RSA-C7-2")
    assert post(client, world.operator_key, accepted["id"], "accept", ACCEPT).status_code == 200
    withdrawn = post(client, admin, accepted["id"], "withdraw", {"withdrawn_on": "2019-01-18"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["status"], withdrawn.json()["decision"]) == ("withdrawn", "accepted")


def test_who_may_answer_and_withdraw(client, world, portal, reader, make_key):
    pathway = prescribe(client, portal, world.convention.id)
    other_portal = make_key("portal")
    for step, body in (("accept", ACCEPT), ("refuse", REFUSE)):
        assert_problem(post(client, world.other_operator_key, pathway["id"], step, body), 404)
        assert_problem(post(client, portal, pathway["id"], step, body), 403)
        assert_problem(post(client, reader, pathway["id"], step, body), 403)
        assert_problem(post(client, {}, pathway["id"], step, body), 401)
    assert_problem(post(client, other_portal, pathway["id"], "withdraw", WITHDRAW), 404)
    assert_problem(post(client, world.operator_key, pathway["id"], "withdraw", WITHDRAW), 403)
    assert_problem(post(client, world.other_operator_key, pathway["id"], "withdraw", WITHDRAW), 403)
    assert_problem(post(client, reader, pathway["id"], "withdraw", WITHDRAW), 403)
    assert_problem(post(client, world.operator_key, 999_999, "accept", ACCEPT), 404)
    stored = read(client, portal, pathway["id"])
    assert (stored["status"], stored["decision"]) == ("prescribed", "pending")


@pytest.mark.parametrize(
    ("step", "body", "field"),
    [
        ("accept", {"accepted_on": "2019-01-09"}, "accepted_on"),  # before the prescription
        ("accept", {"accepted_on": (today() + timedelta(days=1)).isoformat()}, "accepted_on"),
        ("accept", {"accepted_on": "2019-01-15", "appointment_on": "2019-01-14"}, "appointment_on"),
        ("accept", {}, "accepted_on"),
        ("refuse", {"refused_on": "2019-01-09", "refusal_reason": "other"}, "refused_on"),
        ("refuse", {"refused_on": (today() + timedelta(days=1)).isoformat(), "refusal_reason": "other"}, "refused_on"),
        ("refuse", {"refused_on": "2019-01-15", "refusal_reason": "bored"}, "refusal_reason"),
        ("refuse", {"refused_on": "2019-01-15"}, "refusal_reason"),
        ("withdraw", {"withdrawn_on": "2019-01-09"}, "withdrawn_on"),
        ("withdraw", {"withdrawn_on": "2019-01-15", "because": "x"}, "because"),
    ],
)
def test_bad_answers_are_422_and_store_nothing(client, world, admin, nothing_stored, step, body, field):
    pathway = prescribe(client, admin, world.convention.id)
    with nothing_stored():
        problem = assert_problem(post(client, admin, pathway["id"], step, body), 422)
    assert field in {str(part) for error in problem.get("errors", []) for part in error["loc"]} | {
        problem["detail"].split(" ")[0]
    }


def test_answers_in_a_consolidated_year_are_409(client, session, world, admin):
    pathways = [prescribe(client, admin, world.convention.id, ref=f"RSA-C7-{n}") for n in range(3)]
    consolidate(session, 2019)
    for pathway, (step, body) in zip(pathways, [("accept", ACCEPT), ("refuse", REFUSE), ("withdraw", WITHDRAW)]):
        assert_problem(post(client, admin, pathway["id"], step, body), 409)
        assert read(client, admin, pathway["id"])["status"] == "prescribed"


@pytest.fixture
def one_seat(session, make_key):
    """A convention running today with one seat, and its operator's key."""
    this_year = today().year
    convention = factories.convention(
        session,
        start_on=date(this_year - 1, 1, 1),
        end_on=date(this_year + 1, 12, 31),
        years={this_year: {"places": 1}},
    )
    session.commit()
    return convention, make_key("operator", operator_id=convention.operator_id)


@pytest.mark.parametrize("ending", ["refuse", "withdraw"])
def test_a_refusal_or_a_withdrawal_frees_the_seat_for_the_waiting_list(client, session, one_seat, portal, ending):
    convention, operator = one_seat
    day = today().isoformat()
    first, second, third, fourth = (
        prescribe(client, portal, convention.id, ref=f"SEAT-C7-{n}", prescribed_on=day) for n in range(4)
    )
    assert [p["status"] for p in (first, second, third, fourth)] == ["prescribed"] + ["waitlisted"] * 3
    # Answering a waitlisted prescription leaves it waiting.
    assert post(client, operator, third["id"], "accept", {"accepted_on": day}).json()["status"] == "waitlisted"
    if ending == "refuse":
        answer = post(client, operator, first["id"], "refuse", {"refused_on": day, "refusal_reason": "not_reachable"})
    else:
        answer = post(client, portal, first["id"], "withdraw", {"withdrawn_on": day})
    assert answer.status_code == 200, answer.text
    assert read(client, portal, second["id"])["status"] == "prescribed"  # promoted
    assert [read(client, portal, p["id"])["waitlist_position"] for p in (third, fourth)] == [1, 2]
    assert stored_seats(session)[convention.id] == (0, 1, 2) == recounted_seats(session)[convention.id]
    # Refusing (or withdrawing) a waitlisted prescription takes it out of the queue.
    if ending == "refuse":
        out = post(client, operator, third["id"], "refuse", {"refused_on": day, "refusal_reason": "session_full"})
        assert_problem(out, 409)  # it was accepted: a refusal now contradicts that answer
        out = post(client, operator, fourth["id"], "refuse", {"refused_on": day, "refusal_reason": "session_full"})
    else:
        out = post(client, portal, fourth["id"], "withdraw", {"withdrawn_on": day})
    assert out.status_code == 200, out.text
    assert out.json()["status"] == ("refused" if ending == "refuse" else "withdrawn")
    assert out.json()["waitlist_position"] is None
    assert read(client, portal, third["id"])["waitlist_position"] == 1
    assert stored_seats(session)[convention.id] == (0, 1, 1) == recounted_seats(session)[convention.id]


def test_the_reference_tables(client):
    reasons = client.get(f"{API}/reference/refusal-reasons").json()
    assert [r["code"] for r in reasons] == [
        "session_full",
        "not_eligible",
        "not_reachable",
        "did_not_come",
        "not_interested",
        "incompatible",
        "other_action",
        "duplicate",
        "other",
    ]
    assert reasons[0]["label"] == "Action complète" and reasons[4]["label"] == "Ne souhaite pas s'engager"
    dimensions = client.get(f"{API}/reference/diagnostic-dimensions").json()
    assert len(dimensions) == 15
    assert dimensions[1] == {"code": "professional_experience", "label": "Expérience Professionnelle"}
    assert dimensions[5] == {"code": "numeracy", "label": "Mathématiques"}


def test_the_decision_indicators_fill_an_actions_bilan_table(client, session, world, portal, admin):
    pathways = [prescribe(client, portal, world.convention.id, ref=f"RSA-BILAN-{n}") for n in range(3)]
    assert post(client, world.operator_key, pathways[0]["id"], "accept", ACCEPT).status_code == 200
    assert post(client, world.operator_key, pathways[1]["id"], "refuse", REFUSE).status_code == 200
    assert post(client, portal, pathways[2]["id"], "withdraw", WITHDRAW).status_code == 200
    action = client.get(f"{API}/conventions/{world.convention.id}", headers=admin).json()["action"]
    codes = ["decisions", "refusal_rate", "mean_decision_delay_days", "withdrawals", "expired_prescriptions"]
    patched = client.patch(f"{API}/actions/{action}", json={"indicators": codes}, headers=admin)
    assert patched.status_code == 200, patched.text
    bilan = client.get(f"{API}/bilan", params={"years": "2019", "action": action, "as_of": "2019-12-31"}, headers=admin)
    assert bilan.status_code == 200, bilan.text
    [table] = [a["table"] for family in bilan.json()["families"] for a in family["actions"] if a["code"] == action]
    assert {row["indicator"]: row["values"]["2019"] for row in table} == {
        "decisions": 2,
        "refusal_rate": 0.5,
        "mean_decision_delay_days": 5.5,  # 5 and 6 days after the prescription of 10 January
        "withdrawals": 1,
        "expired_prescriptions": 0,
    }
    assert table[1]["label"] == "Taux de refus"


def test_the_migration_states_the_same_checks_as_the_model():
    """The CHECKs of the answers are written twice (the model, the migration that adds them):
    `alembic check` does not compare CHECKs, this does."""
    import importlib.util
    from pathlib import Path

    from sqlalchemy import CheckConstraint

    from app.pathways.models import Pathway
    from app.reference.refusal_reasons import REFUSAL_REASON_CODES

    (path,) = (Path(__file__).parents[2] / "migrations" / "versions").glob("*_d7a4c2e9f1b6_*.py")
    spec = importlib.util.spec_from_file_location("c7_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    model = {
        str(constraint.name).removeprefix("ck_pathway_"): str(constraint.sqltext)
        for constraint in Pathway.__table__.constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert {name: model[name] for name in migration.PATHWAY_CHECKS} == migration.PATHWAY_CHECKS
    assert migration.REFUSAL_REASONS == REFUSAL_REASON_CODES
