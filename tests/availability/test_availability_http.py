"""GET /availability over HTTP: caching headers, 304s, input errors, access, default day, query count."""

from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import event

from app.catalogue.models import Action
from app.core import time as clock
from tests import factories

DAY = date(2019, 6, 15)


@pytest.fixture
def convention(session):
    row = factories.convention(session, years={2019: {"places": 5}})
    factories.pathway(session, convention_id=row.id, entered_on=date(2019, 5, 1), planned_end_on=date(2019, 9, 1))
    session.commit()  # as another client would have: the ETag names the committed state
    return row


@pytest.fixture
def query(session, convention) -> dict:
    return {"on": DAY.isoformat(), "action": session.get(Action, convention.action_id).code}


def test_response_carries_an_etag_and_may_be_cached_for_a_minute(get_availability, query):
    response = get_availability(**query)

    assert response.status_code == 200
    assert response.headers["ETag"].startswith('"') and response.headers["ETag"].endswith('"')
    assert response.headers["Cache-Control"] == "public, max-age=60"
    # Same data, same tag: the portal can rely on it between polls.
    assert get_availability(**query).headers["ETag"] == response.headers["ETag"]


def test_if_none_match_with_the_current_etag_is_a_304_with_empty_body(get_availability, query):
    etag = get_availability(**query).headers["ETag"]

    for sent in (etag, f"W/{etag}", f'"something-else", {etag}', "*"):
        response = get_availability(headers={"If-None-Match": sent}, **query)
        assert response.status_code == 304, sent
        assert response.content == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"] == "public, max-age=60"


def test_a_stale_etag_gets_the_full_body(get_availability, query):
    response = get_availability(headers={"If-None-Match": '"not-the-current-one"'}, **query)

    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_a_new_pathway_changes_the_etag(session, get_availability, query, convention):
    before = get_availability(**query)
    factories.pathway(session, convention_id=convention.id, prescribed_on=date(2019, 6, 1))
    session.commit()

    after = get_availability(headers={"If-None-Match": before.headers["ETag"]}, **query)

    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.json()["items"][0]["reserved"] == before.json()["items"][0]["reserved"] + 1


def test_another_day_is_another_etag(get_availability, query):
    etag = get_availability(**query).headers["ETag"]

    other_day = get_availability(headers={"If-None-Match": etag}, **{**query, "on": "2019-06-16"})

    assert other_day.status_code == 200
    assert other_day.headers["ETag"] != etag


def test_default_day_is_today(monkeypatch, get_availability, session, query, convention):
    monkeypatch.setattr(clock, "today", lambda: DAY)
    # Ended the day before "today": listed for yesterday, not for today.
    ended = factories.convention(
        session, action_id=convention.action_id, start_on=date(2019, 1, 1), end_on=date(2019, 6, 14)
    )
    without_day = {key: value for key, value in query.items() if key != "on"}

    response = get_availability(**without_day)

    assert response.status_code == 200
    assert response.json()["on"] == DAY.isoformat()
    assert response.json()["items"] == get_availability(**query).json()["items"]
    assert [item["convention_id"] for item in response.json()["items"]] == [convention.id]
    assert ended.id in [i["convention_id"] for i in get_availability(**{**query, "on": "2019-06-14"}).json()["items"]]


def test_anyone_may_read_it_keys_included(get_availability, query, reader, portal, admin):
    assert get_availability(**query).status_code == 200
    for headers in (reader, portal, admin):
        assert get_availability(headers=headers, **query).status_code == 200


def test_an_unknown_key_is_a_401(get_availability, query):
    response = get_availability(headers={"Authorization": "Bearer not-a-key"}, **query)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("on", "2019-02-30"),
        ("on", "15/06/2019"),
        ("on", "tomorrow"),
        ("on", "1560556800"),  # not read as a Unix timestamp
        ("on", "2019-06-15T00:00:00"),
        ("territory", "suburban"),
        ("size", "501"),
        ("size", "0"),
        ("page", "0"),
    ],
)
def test_bad_query_is_a_422_problem(get_availability, query, param, value):
    response = get_availability(**{**query, param: value})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert body["title"] == "Invalid input"
    assert ["query", param] in [error["loc"] for error in body["errors"]]
    assert "ETag" not in response.headers


def test_largest_page_size_is_accepted(get_availability, query):
    assert get_availability(**query, size=500).status_code == 200


@pytest.fixture
def statements_run(session):
    """`with statements_run() as statements:` → the SQL sent on the test's connection meanwhile."""

    @contextmanager
    def record():
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            statements.append(statement)

        connection = session.connection()
        event.listen(connection, "before_cursor_execute", count)
        try:
            yield statements
        finally:
            event.remove(connection, "before_cursor_execute", count)

    return record


def selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_number_of_queries_does_not_grow_with_the_page(session, get_availability, statements_run):
    def statements_to_list(conventions: int) -> list[str]:
        action = factories.action(session)
        for _ in range(conventions):
            site = factories.site(session)
            convention = factories.convention(
                session, action_id=action.id, site_ids=[site.id], years={2019: {"places": 4}}
            )
            factories.pathway(
                session, convention_id=convention.id, entered_on=date(2019, 5, 1), planned_end_on=date(2019, 7, 1)
            )
            factories.pathway(session, convention_id=convention.id, prescribed_on=date(2019, 6, 1))
        session.commit()  # the setup's own writes (and their feed rows) are not the request's
        with statements_run() as statements:
            response = get_availability(on=DAY.isoformat(), action=action.code, commune="le mans")
        items = response.json()["items"]
        assert len(items) == conventions
        assert all((item["occupied"], item["reserved"], len(item["sites"])) == (1, 1, 1) for item in items)
        return statements

    two, twenty = statements_to_list(2), statements_to_list(20)

    assert len(twenty) == len(two)
    # the feed's clock (the ETag), the count, the page, the seats on the day (the counters with
    # the changes by day), the sites
    assert len(selects(twenty)) == 5, selects(twenty)


def test_an_empty_page_costs_no_aggregate_queries(get_availability, statements_run):
    with statements_run() as statements:
        response = get_availability(on=DAY.isoformat(), action="no-such-action")

    assert response.json()["items"] == []
    assert len(selects(statements)) == 3  # the feed's clock (the ETag), the count and the page
