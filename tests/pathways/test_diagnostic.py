"""SPEC C7, the diagnostic: written by the pathway's operator (or an admin), read by them and by
the portal key that prescribed, never by a reader nor another portal or operator; reads are
audited; retention erases its free text and keeps its dimensions; the barrier rates count it."""

import json
from datetime import date

import pytest
from sqlmodel import select

from app.audit.models import AuditEvent
from app.core.caller import CLI
from app.pathways.retention import apply_retention
from tests.pathways.helpers import API, assert_problem, consolidate, pathway_body

DIAGNOSTIC = {
    "assessed_on": "2019-02-20",
    "dimensions": {"mobility": "barrier", "digital": "barrier", "qualification": "asset", "health": "neutral"},
    "recommendations": [{"action": "depart-mobilite", "note": "permis B à préparer"}, {"action": "aci"}],
    "summary": "Personne motivée ; la mobilité reste le frein principal.",
}


@pytest.fixture
def entered(client, world, portal) -> dict:
    """A pathway the portal prescribed and the operator entered."""
    answer = client.post(f"{API}/pathways", json=pathway_body(world.convention.id, "RSA-DIAG"), headers=portal)
    assert answer.status_code == 201, answer.text
    pathway = answer.json()
    entry = client.post(
        f"{API}/pathways/{pathway['id']}/entry", json={"entered_on": "2019-02-01"}, headers=world.operator_key
    )
    assert entry.status_code == 200, entry.text
    return pathway


def url(pathway) -> str:
    return f"{API}/pathways/{pathway['id']}/diagnostic"


def test_the_operator_writes_it_and_the_rightful_keys_read_it(client, session, world, entered, portal, admin):
    created = client.put(url(entered), json=DIAGNOSTIC, headers=world.operator_key)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["dimensions"] == DIAGNOSTIC["dimensions"]
    assert body["recommendations"] == [
        {"action": "depart-mobilite", "note": "permis B à préparer"},
        {"action": "aci", "note": None},
    ]
    assert (body["summary"], body["erased"], body["assessed_on"]) == (DIAGNOSTIC["summary"], False, "2019-02-20")
    for headers in (world.operator_key, admin, portal):
        read = client.get(url(entered), headers=headers)
        assert read.status_code == 200, read.text
        assert read.json() == body
        assert read.headers["cache-control"] == "no-store"
    reads = session.exec(
        select(AuditEvent.api_key_id).where(
            AuditEvent.entity == "diagnostic",
            AuditEvent.entity_id == str(entered["id"]),
            AuditEvent.action == "read",
        )
    ).all()
    assert len(reads) == 3

    # A PUT replaces it whole; If-Match refuses a lost update.
    tag = client.get(url(entered), headers=admin).headers["etag"]
    replaced = client.put(
        url(entered), json={"assessed_on": "2019-02-21", "dimensions": {"housing": "barrier"}}, headers=admin
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["dimensions"], replaced.json()["summary"]) == ({"housing": "barrier"}, None)
    stale = client.put(url(entered), json=DIAGNOSTIC, headers=world.operator_key | {"If-Match": tag})
    assert_problem(stale, 412)
    assert client.get(url(entered), headers=admin).json()["dimensions"] == {"housing": "barrier"}


def test_nobody_else_reads_or_writes_it(client, world, entered, portal, reader, make_key):
    assert client.put(url(entered), json=DIAGNOSTIC, headers=world.operator_key).status_code == 201
    other_portal = make_key("portal")
    assert_problem(client.get(url(entered), headers=reader), 403)
    assert_problem(client.get(url(entered), headers=other_portal), 404)
    assert_problem(client.get(url(entered), headers=world.other_operator_key), 404)
    assert_problem(client.get(url(entered), headers={}), 401)
    assert_problem(client.put(url(entered), json=DIAGNOSTIC, headers=portal), 403)
    assert_problem(client.put(url(entered), json=DIAGNOSTIC, headers=reader), 403)
    assert_problem(client.put(url(entered), json=DIAGNOSTIC, headers=world.other_operator_key), 404)
    # Nor through the feed: the pathway's items carry no diagnostic, and it is no kind of its own.
    for headers in (portal, other_portal, reader):
        items = client.get(f"{API}/changes", params={"limit": 1000}, headers=headers).json()["items"]
        assert not any(item["kind"] == "diagnostic" for item in items)
        for item in items:
            assert "dimensions" not in (item["data"] or {}) and DIAGNOSTIC["summary"] not in str(item["data"])


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"dimensions": {"charisma": "barrier"}}, 422),
        ({"dimensions": {"mobility": "obstacle"}}, 422),
        ({"dimensions": {}}, 422),
        ({"recommendations": [{"action": "no-such-action"}]}, 422),
        ({"assessed_on": "2019-01-31"}, 422),  # before the entry
        ({"assessed_on": "2999-01-01"}, 422),
        ({"summary": "x" * 5001}, 422),
        ({"colour": "blue"}, 422),
    ],
)
def test_bad_diagnostics_are_refused(client, world, entered, change, status, nothing_stored):
    with nothing_stored():
        assert_problem(client.put(url(entered), json=DIAGNOSTIC | change, headers=world.operator_key), status)
    assert_problem(client.get(url(entered), headers=world.operator_key), 404)


def test_a_diagnostic_follows_an_entry_and_an_open_year(client, session, world, portal, entered):
    prescribed = client.post(f"{API}/pathways", json=pathway_body(world.convention.id, "RSA-DIAG-2"), headers=portal)
    assert_problem(client.put(url(prescribed.json()), json=DIAGNOSTIC, headers=world.operator_key), 409)
    consolidate(session, 2019)
    assert_problem(client.put(url(entered), json=DIAGNOSTIC, headers=world.operator_key), 409)


def test_retention_erases_its_free_text_and_keeps_its_dimensions(client, session, world, entered, admin):
    assert client.put(url(entered), json=DIAGNOSTIC, headers=world.operator_key).status_code == 201
    exited = client.post(
        f"{API}/pathways/{entered['id']}/exit",
        json={"exited_on": "2019-03-01", "exit_reason": "training"},
        headers=world.operator_key,
    )
    assert exited.status_code == 200, exited.text
    dry = apply_retention(session=session, caller=CLI, ended_before=date(2020, 1, 1), dry_run=True)
    assert dry.diagnostics_erased == 1
    assert client.get(url(entered), headers=admin).json()["summary"] == DIAGNOSTIC["summary"]
    report = apply_retention(session=session, caller=CLI, ended_before=date(2020, 1, 1), dry_run=False)
    session.commit()
    assert report.diagnostics_erased == 1
    erased = client.get(url(entered), headers=admin).json()
    assert (erased["summary"], erased["erased"], erased["dimensions"]) == (None, True, DIAGNOSTIC["dimensions"])
    assert erased["recommendations"] == [{"action": "depart-mobilite", "note": None}, {"action": "aci", "note": None}]
    again = apply_retention(session=session, caller=CLI, ended_before=date(2020, 1, 1), dry_run=False)
    assert again.diagnostics_erased == 0


def test_the_barrier_rates(client, world, entered, admin, portal):
    assert client.put(url(entered), json=DIAGNOSTIC, headers=world.operator_key).status_code == 201
    other = client.post(f"{API}/pathways", json=pathway_body(world.convention.id, "RSA-DIAG-3"), headers=portal).json()
    client.post(f"{API}/pathways/{other['id']}/entry", json={"entered_on": "2019-02-01"}, headers=admin)
    second = DIAGNOSTIC | {"dimensions": {"mobility": "barrier", "digital": "asset"}}
    assert client.put(url(other), json=second, headers=admin).status_code == 201
    answer = client.get(
        f"{API}/indicators",
        params={
            "year": 2019,
            "convention": world.convention.id,
            "indicators": ["barrier_rate_mobility", "barrier_rate_digital", "barrier_rate_housing"],
        },
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"][0]["values"] == {
        "barrier_rate_mobility": 1.0,
        "barrier_rate_digital": 0.5,
        "barrier_rate_housing": 0.0,
    }
    labels = {i["code"]: i["label"] for i in client.get(f"{API}/reference/indicators").json()}
    assert labels["barrier_rate_mobility"] == "Part des diagnostics relevant un frein : Mobilité"


# 70,000 unknown dimensions, or 70,000 unknown fields, in 0.7 MB (under the body cap).
HUGE = json.dumps(DIAGNOSTIC | {"dimensions": {f"x{n}": 0 for n in range(70_000)}}, separators=(",", ":"))
HUGE_FIELDS = json.dumps(DIAGNOSTIC | {f"x{n}": 0 for n in range(70_000)}, separators=(",", ":"))


def test_a_huge_bad_body_from_who_may_not_write_is_refused_for_the_right_not_the_body(
    client, world, entered, portal, reader
):
    """The right is checked before the body is read: a key that may not write the pathway hears
    403/404, never what is wrong with the body it sent."""
    assert_problem(client.put(url(entered), content=HUGE, headers=world.other_operator_key), 404)
    assert_problem(client.put(url(entered), content=HUGE, headers=portal), 403)
    assert_problem(client.put(url(entered), content=HUGE, headers=reader), 403)
    assert_problem(client.put(f"{API}/pathways/999999/diagnostic", content=HUGE, headers=world.operator_key), 404)


def test_a_huge_bad_body_from_the_writer_is_a_small_422(client, world, entered):
    dimensions = client.put(url(entered), content=HUGE, headers=world.operator_key)
    [error] = assert_problem(dimensions, 422)["errors"]
    assert error["loc"] == ["body", "dimensions"] and "at most 15 dimensions" in error["msg"]
    fields = client.put(url(entered), content=HUGE_FIELDS, headers=world.operator_key)
    problem = assert_problem(fields, 422)
    assert len(problem["errors"]) == 100
    assert problem["errors_not_listed"] == 70_000 - 100
    assert problem["errors"][0] == {"loc": ["body", "x0"], "msg": "Extra inputs are not permitted"}
    assert len(fields.content) < 50_000


@pytest.mark.parametrize(
    ("body", "loc"),
    [(b"{", ["body"]), (b"", ["body"]), (b"[]", ["body"]), (b'{"assessed_on": "2019-02-20"}', ["body", "dimensions"])],
)
def test_a_body_that_is_no_diagnostic_is_a_422_naming_where(client, world, entered, body, loc):
    headers = {**world.operator_key, "Content-Type": "application/json"}
    assert_problem(client.put(url(entered), content=body, headers=headers), 422, loc=loc)
