"""Availability answered from memory (app/availability/cache.py): the same answers as the route,
until a committed write moves the change feed, which the workers learn by LISTEN (PostgreSQL).
These need real commits: the concurrency tests' database of their own (`world`)."""

import time
from datetime import date

import pytest
from fastapi.testclient import TestClient

from app.availability import router as availability_router
from app.core.config import get_settings
from tests.concurrency.conftest import World, app_on
from tests.conftest import IS_POSTGRES

pytestmark = pytest.mark.slow

API = "/api/v1"
URL = f"{API}/availability"
DAY = {"on": "2024-06-15"}


@pytest.fixture
def route_calls(monkeypatch) -> list[dict]:
    """Each time the route builds a page (rather than the page being served from memory)."""
    calls: list[dict] = []
    build = availability_router.service.list_availability

    def counted(**arguments):
        calls.append(arguments)
        return build(**arguments)

    monkeypatch.setattr(availability_router.service, "list_availability", counted)
    return calls


def cached_app(world: World, **settings):
    """The app with its availability cache; a write makes the next poll build the page (no
    staleness allowed) unless the test says otherwise."""
    url = world.engine.url.render_as_string(hide_password=False)
    overrides = {"database_url": url, "availability_cache": True, "availability_stale_seconds": 0} | settings
    return app_on(world.engine, get_settings().model_copy(update=overrides))


def wait_until(condition, seconds: float = 10.0) -> None:
    """Poll `condition` (the watch's notices arrive on their own thread), for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the feed watch never caught up"
        time.sleep(0.005)


def watch_up(client) -> float:
    """`pdi_feed_watch_up` as Prometheus scrapes it."""
    [line] = [line for line in client.get("/metrics").text.splitlines() if line.startswith("pdi_feed_watch_up ")]
    return float(line.split()[1])


def watch_of(app):
    middleware = next(m for m in app.user_middleware if m.cls.__name__ == "AvailabilityCache")
    return middleware.kwargs["watch"]


@pytest.mark.skipif(not IS_POSTGRES, reason="the workers learn of writes by PostgreSQL's LISTEN/NOTIFY")
def test_pages_are_served_from_memory_until_a_write_commits(world, route_calls):
    app = cached_app(world)
    watch = watch_of(app)
    with TestClient(app) as client:
        wait_until(lambda: watch.cursor is not None)
        first = client.get(URL, params=DAY)
        assert first.status_code == 200, first.text
        assert len(route_calls) == 1
        again = client.get(URL, params=DAY)
        revalidated = client.get(URL, params=DAY, headers={"If-None-Match": first.headers["ETag"]})
        assert len(route_calls) == 1  # both answered from memory
        assert (again.status_code, again.content, again.headers["ETag"]) == (200, first.content, first.headers["ETag"])
        assert again.headers["content-type"] == "application/json"
        assert again.headers["cache-control"] == first.headers["cache-control"] == "public, max-age=60"
        assert again.headers["x-content-type-options"] == "nosniff"  # the outer middlewares still apply
        assert (revalidated.status_code, revalidated.content) == (304, b"")
        # Counted by /metrics under the route's template, as the route's own answers are.
        metrics = client.get("/metrics").text
        assert 'handler="/api/v1/availability",method="GET",status="304"' in metrics

        # A key holder's request takes the route (its key is checked there).
        assert client.get(URL, params=DAY, headers=world.admin).status_code == 200
        assert len(route_calls) == 2
        # So does another question.
        assert client.get(URL, params=DAY | {"size": 5}).status_code == 200
        assert len(route_calls) == 3

        # A committed write moves the feed: the next request rebuilds the page, with the write in it.
        before = watch.cursor
        prescription = {
            "convention_id": world.convention_id,
            "beneficiary_ref": "CACHE-1",
            "prescribed_on": "2024-06-01",
        }
        assert client.post(f"{API}/pathways", json=prescription, headers=world.admin).status_code == 201
        wait_until(lambda: watch.cursor > before)
        after = client.get(URL, params=DAY)
        assert len(route_calls) == 4
        assert after.headers["ETag"] != first.headers["ETag"]
        item = next(i for i in after.json()["items"] if i["convention_id"] == world.convention_id)
        old = next(i for i in first.json()["items"] if i["convention_id"] == world.convention_id)
        assert item["reserved"] == old["reserved"] + 1
        stale = client.get(URL, params=DAY, headers={"If-None-Match": first.headers["ETag"]})
        assert stale.status_code == 200


@pytest.mark.skipif(not IS_POSTGRES, reason="the workers learn of writes by PostgreSQL's LISTEN/NOTIFY")
def test_pages_from_memory_spend_the_anonymous_budget(world, route_calls):
    app = cached_app(world, rate_limit_anonymous="3/minute")
    watch = watch_of(app)
    with TestClient(app) as client:
        wait_until(lambda: watch.cursor is not None)
        statuses = [client.get(URL, params=DAY | {"family": "budget"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert len(route_calls) == 1  # the first; the route answered the 429 before building any page


def test_without_a_watch_every_request_takes_the_route(world, route_calls):
    """SQLite (no NOTIFY), or the cache turned off: nothing is answered from memory."""
    app = cached_app(world) if not IS_POSTGRES else app_on(world.engine)
    with TestClient(app) as client:
        answers = [client.get(URL, params=DAY) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200] * 3
    assert len({answer.content for answer in answers}) == 1
    assert len(route_calls) == 3


def test_the_day_asked_is_part_of_the_question(world, route_calls):
    with TestClient(app_on(world.engine)) as client:
        one = client.get(URL, params={"on": "2024-06-15"}).headers["ETag"]
        other = client.get(URL, params={"on": str(date(2024, 6, 16))}).headers["ETag"]
    assert one != other


@pytest.mark.skipif(not IS_POSTGRES, reason="the workers learn of writes by PostgreSQL's LISTEN/NOTIFY")
def test_a_stalled_watch_backend_stops_pages_from_memory_and_says_so(world, route_calls, monkeypatch, caplog):
    """The watch's backend stopped (SIGSTOP, as a hung server or a frozen network would): the
    re-check gives up after its timeout, the kept pages are dropped and every request takes the
    route, the warning fires; the watch listens again once the backend is gone."""
    import os
    import signal

    from sqlalchemy import text

    from app.availability import cache

    monkeypatch.setattr(cache, "RECHECK_SECONDS", 0.5)
    monkeypatch.setattr(cache, "RECHECK_TIMEOUT_SECONDS", 1)
    app = cached_app(world)
    watch = watch_of(app)
    with TestClient(app) as client:
        wait_until(lambda: watch.current is not None)
        assert watch_up(client) == 1
        assert client.get(URL, params=DAY).status_code == 200
        assert client.get(URL, params=DAY).status_code == 200
        assert len(route_calls) == 1  # the second from memory
        with world.engine.connect() as connection:
            pid = connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": cache.FeedWatch.APPLICATION_NAME},
            ).scalar_one()
        os.kill(pid, signal.SIGSTOP)
        try:
            with caplog.at_level("WARNING", logger="app.availability.cache"):
                wait_until(lambda: "feed watch lost its connection" in caplog.text, seconds=15)
            wait_until(lambda: not app.state.availability_pages.pages)  # dropped
            calls = len(route_calls)
            assert client.get(URL, params=DAY).status_code == 200
            assert len(route_calls) == calls + 1  # built by the route, not served from memory
            assert watch_up(client) == 0  # what the alerting rule PdiFeedWatchDown watches
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_until(lambda: watch.current is not None, seconds=15)  # listening again, on a new connection


@pytest.mark.skipif(not IS_POSTGRES, reason="the workers learn of writes by PostgreSQL's LISTEN/NOTIFY")
def test_a_caught_up_feed_poll_is_answered_from_the_watch(world, monkeypatch):
    """GET /changes after the cursor the watch knows: an empty page without reading the feed; a
    commit moves the watch, and the next poll with the same `after` gets the change."""
    from app.changes import router as feed_route
    from app.changes import service as feed

    reads = []
    read = feed.list_changes
    monkeypatch.setattr(feed, "list_changes", lambda **arguments: reads.append(arguments) or read(**arguments))
    routed = []  # the polls that reached the route (the others were answered before routing)
    nothing_after = feed_route._nothing_after
    monkeypatch.setattr(feed_route, "_nothing_after", lambda *a: routed.append(a) or nothing_after(*a))
    app = cached_app(world)
    watch = watch_of(app)
    with TestClient(app) as client:
        wait_until(lambda: watch.cursor is not None)
        latest = client.get(f"{API}/changes", params={"after": 0, "limit": 1000}, headers=world.admin).json()
        while latest["items"]:
            latest = client.get(f"{API}/changes", params={"after": latest["next"]}, headers=world.admin).json()
        caught_up = latest["next"]
        assert caught_up == watch.cursor
        read_so_far = len(reads)
        routed.clear()  # the catch-up's pages took the route

        polls = [client.get(f"{API}/changes", params={"after": caught_up}, headers=world.admin) for _ in range(3)]
        polls.append(client.get(f"{API}/changes", params={"after": caught_up, "limit": 10}))  # anonymous
        assert [(poll.status_code, poll.json()) for poll in polls] == [(200, {"items": [], "next": caught_up})] * 4
        assert len(reads) == read_so_far  # none of them read the feed
        assert routed == []  # nor reached the route: answered before routing
        assert polls[0].headers["content-type"] == "application/json"
        assert polls[0].headers["x-content-type-options"] == "nosniff"  # the outer middlewares still apply
        metrics = client.get("/metrics").text
        assert 'handler="/api/v1/changes",method="GET",status="200"' in metrics
        # Any other query is the route's to answer: a parameter it does not know, a limit out of bounds.
        client.get(f"{API}/changes", params={"after": caught_up, "colour": "red"}, headers=world.admin)
        out_of_bounds = client.get(f"{API}/changes", params={"after": caught_up, "limit": 0}, headers=world.admin)
        assert out_of_bounds.status_code == 422  # the route's validation, before its body
        assert len(routed) == 1  # the unknown parameter's, which the route answered
        # A key that does not hold is still refused: the caller is checked before the shortcut.
        assert (
            client.get(f"{API}/changes", params={"after": caught_up}, headers={"Authorization": "Bearer x"}).status_code
            == 401
        )

        prescription = {
            "convention_id": world.convention_id,
            "beneficiary_ref": "FEED-POLL-1",
            "prescribed_on": "2024-06-01",
        }
        created = client.post(f"{API}/pathways", json=prescription, headers=world.admin)
        assert created.status_code == 201, created.text
        wait_until(lambda: watch.cursor > caught_up)
        page = client.get(f"{API}/changes", params={"after": caught_up}, headers=world.admin).json()
        assert ("pathway", str(created.json()["id"])) in {(item["kind"], item["id"]) for item in page["items"]}
        assert page["next"] > caught_up


@pytest.mark.skipif(not IS_POSTGRES, reason="the workers learn of writes by PostgreSQL's LISTEN/NOTIFY")
def test_while_one_request_builds_the_new_page_the_others_get_the_last_one(world, route_calls, monkeypatch):
    """A write moves the feed; the first request after it builds the new page (held here until
    released); a request asking the same question meanwhile gets the last page at once, under its
    own ETag (a 304 for the poller that holds it), without a build of its own; once the build is
    done, everyone gets the new page. Past BUILD_STALE_SECONDS, a build no longer holds the others."""
    import threading

    from app.availability import cache

    build = availability_router.service.list_availability
    release, holding = threading.Event(), threading.Event()

    def held(**arguments):
        if not holding.is_set():  # the first build after the write: the builder's
            holding.set()
            assert release.wait(timeout=30)
        return build(**arguments)

    app = cached_app(world)
    watch = watch_of(app)
    with TestClient(app) as client:
        wait_until(lambda: watch.cursor is not None)
        first = client.get(URL, params=DAY)
        assert first.status_code == 200
        before = watch.cursor
        prescription = {
            "convention_id": world.convention_id,
            "beneficiary_ref": "STALE-1",
            "prescribed_on": "2024-06-01",
        }
        assert client.post(f"{API}/pathways", json=prescription, headers=world.admin).status_code == 201
        wait_until(lambda: watch.cursor > before)

        monkeypatch.setattr(availability_router.service, "list_availability", held)
        builder_answer = []
        builder = threading.Thread(target=lambda: builder_answer.append(client.get(URL, params=DAY)))
        builder.start()
        try:
            assert holding.wait(timeout=30)
            calls = len(route_calls)
            meanwhile = client.get(URL, params=DAY)
            revalidated = client.get(URL, params=DAY, headers={"If-None-Match": first.headers["ETag"]})
            other_question = client.get(URL, params=DAY | {"size": 7})  # not being built: built
            assert len(route_calls) == calls + 1  # only the other question's
            assert (meanwhile.status_code, meanwhile.content) == (200, first.content)
            assert meanwhile.headers["ETag"] == first.headers["ETag"]
            assert revalidated.status_code == 304
            assert other_question.status_code == 200

            monkeypatch.setattr(cache, "BUILD_STALE_SECONDS", 0.0)  # the build has now run "too long"
            calls = len(route_calls)
            assert client.get(URL, params=DAY).status_code == 200
            assert len(route_calls) == calls + 1  # took the route itself
        finally:
            release.set()
            builder.join(timeout=30)
        [built] = builder_answer
        assert built.status_code == 200 and built.headers["ETag"] != first.headers["ETag"]
        monkeypatch.setattr(cache, "BUILD_STALE_SECONDS", 5.0)
        calls = len(route_calls)
        after = client.get(URL, params=DAY)
        assert len(route_calls) == calls  # from memory: the new page
        assert after.headers["ETag"] == built.headers["ETag"] and after.content == built.content


@pytest.mark.skipif(not IS_POSTGRES, reason="the workers learn of writes by PostgreSQL's LISTEN/NOTIFY")
def test_under_writes_a_page_stays_the_answer_for_its_period_then_is_built_in_the_background(world, route_calls):
    """PDI_AVAILABILITY_STALE_SECONDS = 1, the page cache's clock in the test's hands: after a
    write, a poll within the period gets the last page as it is; within twice the period, the
    last page too, while the service builds the next one itself; the poll after that gets the new
    page from memory. Past twice the period, the poll builds it. The builds of the service's own
    spend nobody's budget: anonymous callers may make one request a minute, and there are two."""
    app = cached_app(world, availability_stale_seconds=1.0, rate_limit_anonymous="1/minute")
    watch, pages = watch_of(app), app.state.availability_pages
    now = [1000.0]
    pages.clock = lambda: now[0]
    poller = world.admin  # a key: the polls spend its budget, not the anonymous one

    def prescribe(reference: str) -> None:
        before = watch.cursor
        prescription = {"convention_id": world.convention_id, "beneficiary_ref": reference}
        prescription["prescribed_on"] = "2024-06-01"
        assert client.post(f"{API}/pathways", json=prescription, headers=world.admin).status_code == 201
        wait_until(lambda: watch.cursor > before)

    def reserved(answer) -> int:
        return next(i for i in answer.json()["items"] if i["convention_id"] == world.convention_id)["reserved"]

    def latest_etag() -> str:
        [(etag, _built_at)] = pages.latest.values()
        return etag

    with TestClient(app) as client:
        wait_until(lambda: watch.cursor is not None)
        last = client.get(URL, params=DAY, headers=poller)
        assert last.status_code == 200 and len(route_calls) == 1
        for builds in (1, 2):
            prescribe(f"STALE-PERIOD-{builds}")
            now[0] += 0.5
            within = client.get(URL, params=DAY, headers=poller | {"If-None-Match": last.headers["ETag"]})
            assert within.status_code == 304 and len(route_calls) == builds

            now[0] += 1.0  # 1.5 s after the build: served, and the next page built in the background
            stale = client.get(URL, params=DAY, headers=poller)
            served = last.headers["ETag"]
            assert (stale.status_code, stale.headers["ETag"], stale.content) == (200, served, last.content)
            wait_until(lambda served=served: latest_etag() != served)
            fresh = client.get(URL, params=DAY, headers=poller)
            assert len(route_calls) == builds + 1  # the background build's page, from memory
            assert fresh.headers["ETag"] != last.headers["ETag"] and reserved(fresh) == reserved(last) + 1
            last = fresh

        prescribe("STALE-PERIOD-3")
        now[0] += 2.5  # past twice the period: the poll builds the page
        built = client.get(URL, params=DAY, headers=poller)
        assert built.status_code == 200, built.text
        assert len(route_calls) == 4 and reserved(built) == reserved(last) + 1
