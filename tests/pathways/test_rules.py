"""Every rule on pathway input, sent over HTTP: a problem+json 4xx, and nothing stored."""

from datetime import date, timedelta

import pytest

from app.conventions.models import ConventionStatus
from app.core.time import today
from tests import factories
from tests.pathways.helpers import API, assert_problem, pathway_body, stored_pathway

URL = f"{API}/pathways"
TOMORROW = (today() + timedelta(days=1)).isoformat()
NEXT_YEAR = today().year + 1

# (case, fields added to a valid prescription body, expected status, the field the error points at)
CREATE_CASES = [
    ("entry before prescription", {"entered_on": "2019-01-09"}, 422, "entered_on"),
    (
        "exit before entry",
        {"entered_on": "2019-02-01", "exited_on": "2019-01-31", "exit_reason": "other"},
        422,
        "exited_on",
    ),
    ("exit without entry", {"exited_on": "2019-02-01", "exit_reason": "other"}, 422, "entered_on"),
    ("prescription in the future", {"prescribed_on": TOMORROW}, 422, "prescribed_on"),
    ("entry in the future", {"entered_on": TOMORROW}, 422, "entered_on"),
    (
        "exit in the future",
        {"entered_on": "2019-02-01", "exited_on": TOMORROW, "exit_reason": "other"},
        422,
        "exited_on",
    ),
    ("entry before the convention", {"prescribed_on": "2017-11-01", "entered_on": "2017-12-31"}, 422, "entered_on"),
    ("entry after the convention", {"entered_on": "2021-01-01"}, 422, "entered_on"),
    ("exit without a reason", {"entered_on": "2019-02-01", "exited_on": "2019-03-01"}, 422, "exit_reason"),
    (
        "unknown exit reason",
        {"entered_on": "2019-02-01", "exited_on": "2019-03-01", "exit_reason": "fired"},
        422,
        "exit_reason",
    ),
    ("reason without exit", {"entered_on": "2019-02-01", "exit_reason": "other"}, 422, "exited_on"),
    ("negative hours", {"entered_on": "2019-02-01", "hours": -1}, 422, "hours"),
    ("planned end before entry", {"entered_on": "2019-02-01", "planned_end_on": "2019-01-31"}, 422, "planned_end_on"),
    ("empty ref", {"beneficiary_ref": ""}, 422, "beneficiary_ref"),
    ("ref too long", {"beneficiary_ref": "R" * 65}, 422, "beneficiary_ref"),
    ("unknown field", {"nir": "1800175123456"}, 422, "nir"),
    ("birth year too early", {"beneficiary": {"birth_year": 1899}}, 422, "birth_year"),
    ("birth year in the future", {"beneficiary": {"birth_year": NEXT_YEAR}}, 422, "birth_year"),
    ("unknown sex", {"beneficiary": {"sex": "Z"}}, 422, "sex"),
    ("unknown territory", {"beneficiary": {"territory": "suburban"}}, 422, "territory"),
    ("unknown household", {"beneficiary": {"household": "couple"}}, 422, "household"),
    ("bad insee code", {"beneficiary": {"insee_code": "7205"}}, 422, "insee_code"),
    ("unknown beneficiary field", {"beneficiary": {"name": "Dupont"}}, 422, "name"),
    ("convention that does not exist", {"convention_id": 2_000_000_000}, 422, "convention_id"),
    ("id beyond the column", {"convention_id": 2**40}, 422, "convention_id"),
]


@pytest.mark.parametrize(
    ("fields", "status", "field"), [case[1:] for case in CREATE_CASES], ids=[case[0] for case in CREATE_CASES]
)
def test_create_refuses_bad_input(client, admin, world, nothing_stored, fields, status, field):
    body = pathway_body(world.convention.id) | fields
    with nothing_stored():
        problem = assert_problem(client.post(URL, json=body, headers=admin), status)
    assert any(field in error["loc"] for error in problem["errors"]), problem


def test_create_refuses_a_site_outside_the_convention(client, admin, world, nothing_stored):
    body = pathway_body(world.convention.id, site_id=world.foreign_site_id)
    with nothing_stored():
        problem = assert_problem(client.post(URL, json=body, headers=admin), 422)
    assert problem["errors"][0]["loc"] == ["body", "site_id"]


@pytest.mark.parametrize("status", [ConventionStatus.draft, ConventionStatus.cancelled])
def test_no_pathway_in_a_draft_or_cancelled_convention(client, admin, world, session, nothing_stored, status):
    convention = factories.convention(session, operator_id=world.convention.operator_id, status=status)
    session.commit()
    with nothing_stored():
        assert_problem(client.post(URL, json=pathway_body(convention.id), headers=admin), 422)


# (case, the stored pathway of the same person in the same convention, the new one's fields)
CLASH_CASES = [
    ("duplicate prescription", {}, {}),
    ("prescription while active", {"entered_on": date(2019, 2, 1)}, {"prescribed_on": "2019-03-01"}),
    (
        "overlapping stays",
        {"entered_on": date(2019, 2, 1), "exited_on": date(2019, 5, 31), "exit_reason": "moved"},
        {"prescribed_on": "2019-01-01", "entered_on": "2019-01-15", "exited_on": "2019-02-01", "exit_reason": "moved"},
    ),
    (
        "entry on the exit day",
        {"entered_on": date(2019, 2, 1), "exited_on": date(2019, 5, 31), "exit_reason": "moved"},
        {"prescribed_on": "2019-05-31", "entered_on": "2019-05-31"},
    ),
    (
        "an open stay over an earlier one",
        {"entered_on": date(2019, 6, 1), "exited_on": date(2019, 7, 31), "exit_reason": "moved"},
        {"prescribed_on": "2019-01-01", "entered_on": "2019-02-01"},
    ),
]


@pytest.mark.parametrize(
    ("existing", "fields"), [case[1:] for case in CLASH_CASES], ids=[case[0] for case in CLASH_CASES]
)
def test_one_person_cannot_have_two_open_or_overlapping_pathways(
    client, admin, world, session, nothing_stored, existing, fields
):
    stored_pathway(session, world.convention.id, **existing)
    body = pathway_body(world.convention.id) | fields
    with nothing_stored():
        assert_problem(client.post(URL, json=body, headers=admin), 409)


def test_a_cancelled_prescription_does_not_block_a_new_one(client, admin, world, session):
    stored_pathway(session, world.convention.id, cancelled_on=date(2019, 1, 20), cancel_reason="moved")
    assert client.post(URL, json=pathway_body(world.convention.id), headers=admin).status_code == 201


# Lifecycle steps: (case, stored pathway, step, body, expected status)
STEP_CASES = [
    ("entry before prescription", {}, "entry", {"entered_on": "2018-12-31"}, 422),
    ("entry in the future", {}, "entry", {"entered_on": TOMORROW}, 422),
    ("entry outside the convention", {"prescribed_on": date(2017, 6, 1)}, "entry", {"entered_on": "2017-12-31"}, 422),
    ("entry at a site of another convention", {}, "entry", {"entered_on": "2019-02-01", "site_id": "foreign"}, 422),
    (
        "entry on a cancelled pathway",
        {"cancelled_on": date(2019, 1, 20), "cancel_reason": "x"},
        "entry",
        {"entered_on": "2019-02-01"},
        409,
    ),
    (
        "entry on an exited pathway",
        {"entered_on": date(2019, 2, 1), "exited_on": date(2019, 3, 1), "exit_reason": "other"},
        "entry",
        {"entered_on": "2019-02-01"},
        409,
    ),
    ("another entry date", {"entered_on": date(2019, 2, 1)}, "entry", {"entered_on": "2019-02-02"}, 409),
    ("exit without entry", {}, "exit", {"exited_on": "2019-03-01", "exit_reason": "other"}, 422),
    (
        "exit before entry",
        {"entered_on": date(2019, 2, 1)},
        "exit",
        {"exited_on": "2019-01-31", "exit_reason": "other"},
        422,
    ),
    (
        "exit in the future",
        {"entered_on": date(2019, 2, 1)},
        "exit",
        {"exited_on": TOMORROW, "exit_reason": "other"},
        422,
    ),
    ("exit without reason", {"entered_on": date(2019, 2, 1)}, "exit", {"exited_on": "2019-03-01"}, 422),
    (
        "unknown exit reason",
        {"entered_on": date(2019, 2, 1)},
        "exit",
        {"exited_on": "2019-03-01", "exit_reason": "fired"},
        422,
    ),
    (
        "negative hours",
        {"entered_on": date(2019, 2, 1)},
        "exit",
        {"exited_on": "2019-03-01", "exit_reason": "other", "hours": -5},
        422,
    ),
    (
        "exit with another reason",
        {"entered_on": date(2019, 2, 1), "exited_on": date(2019, 3, 1), "exit_reason": "other"},
        "exit",
        {"exited_on": "2019-03-01", "exit_reason": "training"},
        409,
    ),
    (
        "exit on another date",
        {"entered_on": date(2019, 2, 1), "exited_on": date(2019, 3, 1), "exit_reason": "other"},
        "exit",
        {"exited_on": "2019-03-02", "exit_reason": "other"},
        409,
    ),
    (
        "exit of a cancelled pathway",
        {"cancelled_on": date(2019, 1, 20), "cancel_reason": "x"},
        "exit",
        {"exited_on": "2019-03-01", "exit_reason": "other"},
        409,
    ),
    ("cancel of an entered pathway", {"entered_on": date(2019, 2, 1)}, "cancel", {"cancel_reason": "x"}, 409),
    (
        "cancel of an exited pathway",
        {"entered_on": date(2019, 2, 1), "exited_on": date(2019, 3, 1), "exit_reason": "other"},
        "cancel",
        {"cancel_reason": "x"},
        409,
    ),
    ("cancel before prescription", {}, "cancel", {"cancel_reason": "x", "cancelled_on": "2018-12-31"}, 422),
    ("cancel in the future", {}, "cancel", {"cancel_reason": "x", "cancelled_on": TOMORROW}, 422),
    ("cancel without reason", {}, "cancel", {}, 422),
]


@pytest.mark.parametrize(
    ("existing", "step", "body", "status"), [case[1:] for case in STEP_CASES], ids=[case[0] for case in STEP_CASES]
)
def test_lifecycle_steps_refuse_bad_input(client, admin, world, session, nothing_stored, existing, step, body, status):
    pathway = stored_pathway(session, world.convention.id, **existing)
    if body.get("site_id") == "foreign":
        body = body | {"site_id": world.foreign_site_id}
    with nothing_stored():
        assert_problem(client.post(f"{URL}/{pathway.id}/{step}", json=body, headers=admin), status)


def test_an_entry_that_would_overlap_another_stay_is_refused(client, admin, world, session, nothing_stored):
    stored_pathway(
        session,
        world.convention.id,
        entered_on=date(2019, 2, 1),
        exited_on=date(2019, 5, 31),
        exit_reason="dropped_out",
    )
    prescription = stored_pathway(session, world.convention.id, prescribed_on=date(2019, 5, 1))
    with nothing_stored():
        response = client.post(f"{URL}/{prescription.id}/entry", json={"entered_on": "2019-05-15"}, headers=admin)
        assert_problem(response, 409)


# PATCH: (case, stored pathway, patch, expected status)
PATCH_CASES = [
    ("entry moved before prescription", {"entered_on": date(2019, 2, 1)}, {"entered_on": "2019-01-01"}, 422),
    (
        "entry removed under an exit",
        {"entered_on": date(2019, 2, 1), "exited_on": date(2019, 3, 1), "exit_reason": "other"},
        {"entered_on": None},
        422,
    ),
    (
        "reason removed from an exit",
        {"entered_on": date(2019, 2, 1), "exited_on": date(2019, 3, 1), "exit_reason": "other"},
        {"exit_reason": None},
        422,
    ),
    ("prescription moved to the future", {}, {"prescribed_on": TOMORROW}, 422),
    (
        "entry on a cancelled pathway",
        {"cancelled_on": date(2019, 1, 20), "cancel_reason": "x"},
        {"entered_on": "2019-02-01"},
        409,
    ),
    ("negative hours", {"entered_on": date(2019, 2, 1)}, {"hours": -0.5}, 422),
    ("infinite hours", {"entered_on": date(2019, 2, 1)}, {"hours": "Infinity"}, 422),
]


@pytest.mark.parametrize(
    ("existing", "patch", "status"), [case[1:] for case in PATCH_CASES], ids=[case[0] for case in PATCH_CASES]
)
def test_patch_refuses_bad_input(client, admin, world, session, nothing_stored, existing, patch, status):
    pathway = stored_pathway(session, world.convention.id, **existing)
    with nothing_stored():
        assert_problem(client.patch(f"{URL}/{pathway.id}", json=patch, headers=admin), status)


def test_patch_cannot_make_two_stays_overlap(client, admin, world, session, nothing_stored):
    stored_pathway(
        session,
        world.convention.id,
        entered_on=date(2019, 2, 1),
        exited_on=date(2019, 5, 31),
        exit_reason="dropped_out",
    )
    later = stored_pathway(session, world.convention.id, prescribed_on=date(2019, 6, 1), entered_on=date(2019, 6, 10))
    with nothing_stored():
        assert_problem(
            client.patch(
                f"{URL}/{later.id}", json={"entered_on": "2019-05-31", "prescribed_on": "2019-05-01"}, headers=admin
            ),
            409,
        )


@pytest.mark.parametrize("path", ["/999999999", "/0", "/-1", "/99999999999", "/abc"])
def test_unknown_or_impossible_ids_are_clean_errors(client, admin, path):
    response = client.get(f"{URL}{path}", headers=admin)
    assert response.status_code in (404, 422)
    assert_problem(response, response.status_code)
