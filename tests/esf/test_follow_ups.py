"""POST /follow-ups and GET /follow-ups/due (SPEC C9): the window after the exit, per-item
results, idempotency, conflicts, all or nothing, operator scoping, CSV."""

from datetime import date, timedelta

from sqlmodel import select

from app.core.config import get_settings
from app.esf.records.models import FollowUp, FollowUpSituation
from app.pathways.models import Beneficiary, Pathway
from tests.esf.conftest import API, post_pathway

EXIT = date(2020, 3, 2)
SITUATIONS = [situation.value for situation in FollowUpSituation]


def _exited(client, headers, convention_id, ref, exited_on=EXIT) -> int:
    pathway = post_pathway(client, headers, convention_id, ref, entered_on="2020-01-06")
    response = client.post(
        f"{API}/pathways/{pathway['id']}/exit",
        json={"exited_on": exited_on.isoformat(), "exit_reason": "completed"},
        headers=headers,
    )
    assert response.status_code == 200
    return pathway["id"]


def _item(pathway_id, days, situation="employed_cdi", **extra):
    return {
        "pathway_id": pathway_id,
        "observed_on": (EXIT + timedelta(days=days)).isoformat(),
        "situation": situation,
        **extra,
    }


def _post(client, headers, items, **params):
    return client.post(f"{API}/follow-ups", json=items, headers=headers, params=params)


def _stored(session) -> dict[int, tuple]:
    session.expire_all()
    return {
        row.pathway_id: (row.observed_on, row.situation, row.improved_situation)
        for row in session.exec(select(FollowUp))
    }


def test_the_window_is_150_to_240_days_after_the_exit(client, session, esf):
    ids = [_exited(client, esf.operator_key, esf.cofunded.id, f"W-{n}") for n in range(4)]
    answer = _post(
        client,
        esf.operator_key,
        [_item(ids[0], 149), _item(ids[1], 150, improved_situation=True), _item(ids[2], 240), _item(ids[3], 241)],
    ).json()
    assert [r["status"] for r in answer["results"]] == ["error", "created", "created", "error"]
    assert answer["results"][0]["problem"]["status"] == 422
    assert answer["counts"] == {"created": 2, "unchanged": 0, "error": 2}
    assert _stored(session) == {
        ids[1]: (EXIT + timedelta(days=150), "employed_cdi", True),
        ids[2]: (EXIT + timedelta(days=240), "employed_cdi", None),
    }


def test_a_batch_again_is_unchanged_and_another_value_a_conflict(client, session, esf):
    first, second = (_exited(client, esf.operator_key, esf.cofunded.id, ref) for ref in ("R-1", "R-2"))
    items = [_item(first, 180, "training"), _item(second, 200, "inactive", improved_situation=False)]
    assert _post(client, esf.operator_key, items).json()["counts"]["created"] == 2
    again = _post(client, esf.operator_key, items).json()
    assert again["counts"] == {"created": 0, "unchanged": 2, "error": 0}
    other = _post(client, esf.operator_key, [_item(first, 180, "employed_short")]).json()
    assert other["results"][0]["status"] == "error" and other["results"][0]["problem"]["status"] == 409
    assert _stored(session)[first] == (EXIT + timedelta(days=180), "training", None)


def test_atomic_stores_nothing_when_an_item_fails(client, session, esf):
    good = _exited(client, esf.operator_key, esf.cofunded.id, "A-1")
    open_one = post_pathway(client, esf.operator_key, esf.cofunded.id, "A-2", entered_on="2020-01-06")["id"]
    response = _post(client, esf.operator_key, [_item(good, 160), _item(open_one, 160)], atomic="true")
    assert response.status_code == 422
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created", "error"]
    assert body["results"][1]["problem"]["status"] == 409  # no exit yet
    assert _stored(session) == {}
    assert _post(client, esf.operator_key, [_item(good, 160)], atomic="true").status_code == 200
    assert list(_stored(session)) == [good]


def test_an_operator_reaches_its_own_pathways_only(client, session, esf, admin):
    mine = _exited(client, esf.operator_key, esf.cofunded.id, "S-1")
    theirs = _exited(client, esf.other_operator_key, esf.other_cofunded.id, "S-2")
    answer = _post(client, esf.operator_key, [_item(mine, 170), _item(theirs, 170), _item(999_999, 170)]).json()
    assert [r["status"] for r in answer["results"]] == ["created", "error", "error"]
    assert answer["results"][1]["problem"]["status"] == 404 and answer["results"][1]["pathway_id"] is None
    assert list(_stored(session)) == [mine]
    for headers in (esf.reader_key, esf.portal_key):
        assert _post(client, headers, [_item(mine, 170)]).status_code == 403
    assert _post(client, admin, [_item(theirs, 170)]).json()["counts"]["created"] == 1


def test_csv_and_shape_errors(client, session, esf):
    pathway_id = _exited(client, esf.operator_key, esf.cofunded.id, "C-1")
    body = (
        "pathway_id;observed_on;situation;improved_situation\n"
        f"{pathway_id};{(EXIT + timedelta(days=190)).isoformat()};self_employed;true\n"
        f"{pathway_id};2020-09-01;retired;\n"
    )
    answer = client.post(
        f"{API}/follow-ups", content=body, headers=esf.operator_key | {"Content-Type": "text/csv"}
    ).json()
    assert [r["status"] for r in answer["results"]] == ["created", "error"]
    assert answer["results"][1]["problem"]["status"] == 422
    assert _stored(session) == {pathway_id: (EXIT + timedelta(days=190), "self_employed", True)}
    bad_header = client.post(
        f"{API}/follow-ups",
        content="pathway_id,mood\n1,good\n",
        headers=esf.operator_key | {"Content-Type": "text/csv"},
    )
    assert bad_header.status_code == 422
    wrong_type = client.post(
        f"{API}/follow-ups", content="x", headers=esf.operator_key | {"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415


def test_due_lists_the_callers_exits_in_their_window_without_follow_up(client, esf, admin):
    early = _exited(client, esf.operator_key, esf.cofunded.id, "D-1", exited_on=date(2020, 1, 10))
    late = _exited(client, esf.operator_key, esf.cofunded.id, "D-2", exited_on=date(2020, 5, 1))
    done = _exited(client, esf.operator_key, esf.cofunded.id, "D-3", exited_on=date(2020, 2, 1))
    theirs = _exited(client, esf.other_operator_key, esf.other_cofunded.id, "D-4", exited_on=date(2020, 2, 1))
    _post(client, esf.operator_key, [{"pathway_id": done, "observed_on": "2020-08-01", "situation": "unknown"}])
    on = date(2020, 9, 1)  # 235 days after D-1, 123 after D-2
    due = client.get(f"{API}/follow-ups/due", params={"on": on.isoformat()}, headers=esf.operator_key).json()
    assert [item["pathway_id"] for item in due["items"]] == [early]
    assert due["items"][0]["window_from"] == "2020-06-08" and due["items"][0]["window_to"] == "2020-09-06"
    later = client.get(f"{API}/follow-ups/due", params={"on": "2020-10-01"}, headers=esf.operator_key).json()
    assert [item["pathway_id"] for item in later["items"]] == [late]
    everyone = client.get(f"{API}/follow-ups/due", params={"on": "2020-08-01"}, headers=admin).json()
    assert [item["pathway_id"] for item in everyone["items"]] == [early, theirs]
    assert client.get(f"{API}/follow-ups/due", headers=esf.reader_key).status_code == 403


def test_employment_6_months_rate_counts_the_known_follow_ups_of_the_exits_in_the_period(client, esf, admin):
    ids = [_exited(client, esf.operator_key, esf.cofunded.id, f"E-{n}") for n in range(4)]
    _post(
        client,
        esf.operator_key,
        [_item(ids[0], 180, "employed_cdd_over_6m"), _item(ids[1], 180, "job_seeking"), _item(ids[2], 180, "unknown")],
    )
    params = {"year": 2020, "convention": esf.cofunded.id, "indicators": "employment_6_months_rate"}
    (row,) = client.get(f"{API}/indicators", params=params, headers=admin).json()["rows"]
    assert row["values"] == {"employment_6_months_rate": 0.5}
    (row,) = client.get(f"{API}/indicators", params=params | {"year": 2019}, headers=admin).json()["rows"]
    assert row["values"] == {"employment_6_months_rate": None}
    codes = [item["code"] for item in client.get(f"{API}/reference/indicators").json()]
    assert "employment_6_months_rate" in codes


def test_answers_about_persons_are_never_cached(client, esf):
    for path in ("/follow-ups/due", "/esf/incomplete?year=2020"):
        response = client.get(f"{API}{path}", headers=esf.operator_key)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert _post(client, esf.operator_key, []).headers["Cache-Control"] == "no-store"


def test_a_batch_of_more_than_a_thousand_with_the_same_pathway_twice(client, session, esf, monkeypatch):
    """1,200 items: each pathway's follow-up stored as given, the same one again in the batch
    unchanged, another one for it a 409, unknown ids 404s."""
    monkeypatch.setattr(get_settings(), "max_batch_items", 1200)
    people = [Beneficiary(ref_hash=f"follow-up-{n}") for n in range(1000)]
    session.add_all(people)
    session.flush()
    pathways = [
        Pathway(
            convention_id=esf.cofunded.id,
            beneficiary_id=person.id,
            prescribed_on=date(2020, 1, 6),
            entered_on=date(2020, 1, 6),
            exited_on=EXIT,
            exit_reason="completed",
        )
        for person in people
    ]
    session.add_all(pathways)
    session.commit()
    ids = [pathway.id for pathway in pathways]
    items = [_item(pathway_id, 150 + n % 90, SITUATIONS[n % len(SITUATIONS)]) for n, pathway_id in enumerate(ids)]
    items += [_item(ids[n], 150 + n % 90, SITUATIONS[n % len(SITUATIONS)]) for n in range(100)]  # again: unchanged
    items += [_item(ids[n], 160, "unknown") for n in range(100, 150)] + [_item(999_999_000 + n, 160) for n in range(50)]
    answer = _post(client, esf.operator_key, items).json()
    assert answer["counts"] == {"created": 1000, "unchanged": 100, "error": 100}
    statuses = [(r["status"], r["pathway_id"], (r["problem"] or {}).get("status")) for r in answer["results"]]
    assert statuses == (
        [("created", pathway_id, None) for pathway_id in ids]
        + [("unchanged", ids[n], None) for n in range(100)]
        + [("error", ids[n], 409) for n in range(100, 150)]
        + [("error", None, 404)] * 50
    )
    stored = _stored(session)
    assert stored == {
        pathway_id: (EXIT + timedelta(days=150 + n % 90), SITUATIONS[n % len(SITUATIONS)], None)
        for n, pathway_id in enumerate(ids)
    }


def test_csv_as_french_offices_write_it(client, session, esf):
    """A BOM, `;`, CRLF, the day as JJ/MM/AAAA; each result names its line (the header is line 1)."""
    first = _exited(client, esf.operator_key, esf.cofunded.id, "F-1")
    second = _exited(client, esf.operator_key, esf.cofunded.id, "F-2")
    observed = EXIT + timedelta(days=190)
    body = (
        "\ufeffpathway_id;observed_on;situation;improved_situation\r\n"
        f"{first};{observed:%d/%m/%Y};employed_cdi;true\r\n"
        "\r\n"
        f"{second};31/02/2020;employed_cdi;\r\n"
    ).encode()
    answer = client.post(f"{API}/follow-ups", content=body, headers=esf.operator_key | {"Content-Type": "text/csv"})
    results = answer.json()["results"]
    assert [(r["line"], r["status"]) for r in results] == [(2, "created"), (4, "error")]
    assert results[1]["problem"]["line"] == 4
    assert _stored(session) == {first: (observed, "employed_cdi", True)}
    # JSON keeps ISO days.
    json_answer = _post(client, esf.operator_key, [_item(second, 190) | {"observed_on": f"{observed:%d/%m/%Y}"}])
    assert json_answer.json()["results"][0]["status"] == "error"
