"""Heavy reads bounded (issue 22): a statement budget per request (lower for key holders than for
admin), a bulkhead that keeps heavy reads off the connections the rest of the API needs, and
their statements cancelled when the client hangs up. On the run's database, committed for real."""

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from app.core.budgets import RequestConnections
from app.core.bulkhead import SharedCallerSlots
from app.core.config import get_settings
from app.core.db import SessionDep, get_read_session, get_session, request_session
from app.core.engines import make_engine
from app.core.rate_limits import RateLimits
from app.core.time import today
from tests.concurrency.conftest import app_on, run_at_once
from tests.helpers import missing

pytestmark = pytest.mark.slow

# A statement far longer than any budget below, on each database.
SLOW = {
    "postgresql": "SELECT pg_sleep(30)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) FROM c",
}


def settings_with(**values):
    return get_settings().model_copy(update=values)


def probing_app(world, **settings):
    """The world's application with two routes of the test's own: one that says the statement
    budget its transaction got, one that runs a statement longer than any budget."""
    app = app_on(world.engine, settings_with(**settings))

    @app.get("/test/budget")
    def budget(session: SessionDep) -> dict:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            return {"ms": int(connection.exec_driver_sql("SHOW statement_timeout").scalar().removesuffix("ms") or 0)}
        return {"ms": connection.info["pdi_statement_budget_ms"]}

    @app.get("/test/slow")
    def slow(session: SessionDep) -> dict:
        connection = session.connection()
        connection.exec_driver_sql(SLOW[connection.dialect.name]).scalar()
        return {"finished": True}

    return app


def test_key_holders_get_a_lower_statement_budget_than_admin(world):
    app = probing_app(world, db_statement_timeout_ms=1234, db_statement_timeout_admin_ms=5678)
    with TestClient(app) as client:
        assert client.get("/test/budget").json() == {"ms": 1234}  # anonymous
        assert client.get("/test/budget", headers=world.operator).json() == {"ms": 1234}
        assert client.get("/test/budget", headers=world.admin).json() == {"ms": 5678}


def test_connections_opened_with_everyones_budget_still_give_admin_its_own(world):
    """The requests' engine opens its PostgreSQL connections with everyone's budget and sets none
    per transaction for them; admin's transactions still get admin's, and the connection is back
    to everyone's after one (SET LOCAL ends with its transaction). One connection for all three."""
    engine = make_engine(
        str(world.engine.url.render_as_string(hide_password=False)),
        statement_timeout_ms=1234,
        pool_size=1,
        max_overflow=0,
    )
    try:
        settings = dict(db_statement_timeout_ms=1234, db_statement_timeout_admin_ms=5678)
        app = probing_app(world, **settings)

        def session_on_the_requests_engine(request: Request):
            yield from request_session(engine, request)

        app.dependency_overrides[get_session] = session_on_the_requests_engine
        budget_sets = []
        with TestClient(app) as client:
            # A key's use is written at most once a minute (app/auth/key_cache.py), in transactions
            # of their own: noted now, so that what follows counts the budgets only, however long
            # the module's earlier tests took.
            for headers in (world.operator, world.admin):
                assert client.get("/test/budget", headers=headers).status_code == 200
            event.listen(
                engine,
                "before_cursor_execute",
                lambda _c, _cu, statement, *_: (
                    budget_sets.append(statement) if "SET LOCAL statement_timeout" in statement else None
                ),
            )
            assert client.get("/test/budget", headers=world.operator).json() == {"ms": 1234}
            assert client.get("/test/budget", headers=world.admin).json() == {"ms": 5678}
            assert client.get("/test/budget").json() == {"ms": 1234}
        if engine.dialect.name == "postgresql":
            assert budget_sets == ["SET LOCAL statement_timeout = 5678"]  # admin's only
    finally:
        engine.dispose()


def test_a_statement_past_its_budget_is_stopped_and_answered_503_with_retry_after(world):
    app = probing_app(world, db_statement_timeout_ms=200, db_statement_timeout_admin_ms=60_000)
    started = time.monotonic()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test/slow", headers=world.operator)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/statement-timeout")
    assert int(response.headers["Retry-After"]) >= 1
    assert time.monotonic() - started < 20  # stopped, not run to its end (30 s or more)


@contextmanager
def _listening_ends(engine, listener) -> Iterator[None]:
    """The module's world outlives the test: its engine stops calling `listener` when it ends."""
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_heavy_reads_plan_with_their_own_parallel_workers_and_every_other_request_with_the_servers(world):
    """PDI_HEAVY_READS_PARALLEL_WORKERS bounds PostgreSQL's parallel workers for the transactions
    of a heavy read (a path under the bulkhead's prefixes), and for no other request: a probe route
    under /api/v1/reports and one outside say what their transaction plans with, and the real
    bilan's transaction sets it."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's parallel workers; SQLite plans on one thread")
    app = probing_app(world, heavy_reads_parallel_workers=1)

    def parallel_workers(session: SessionDep) -> dict:
        return {"workers": session.connection().exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar()}

    app.get("/api/v1/reports/test-parallel-workers")(parallel_workers)
    app.get("/test/parallel-workers")(parallel_workers)
    with world.engine.connect() as connection:
        servers = connection.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar()
    assert servers != "1", "the server's own setting must differ from the one the test gives heavy reads"
    caps = []

    def note_cap(_connection, _cursor, statement, *_):
        if "max_parallel_workers_per_gather =" in statement:
            caps.append(statement)

    event.listen(world.engine, "before_cursor_execute", note_cap)
    with _listening_ends(world.engine, note_cap), TestClient(app) as client:
        assert client.get("/api/v1/reports/test-parallel-workers", headers=world.admin).json() == {"workers": "1"}
        # SET LOCAL ends with its transaction: the next request on the pool's connections plans as the server does.
        assert client.get("/test/parallel-workers", headers=world.admin).json() == {"workers": servers}
        caps.clear()
        bilan = client.get("/api/v1/bilan", params={"years": today().year}, headers=world.admin)
        assert bilan.status_code == 200, bilan.text
        assert caps == ["SET LOCAL max_parallel_workers_per_gather = 1"]
        assert client.get("/api/v1/actions", headers=world.admin).status_code == 200
        assert caps == ["SET LOCAL max_parallel_workers_per_gather = 1"]


def test_indicators_refuse_an_as_of_after_today_and_a_window_too_wide_for_its_groups(world, monkeypatch):
    monkeypatch.setattr(get_settings(), "indicators_max_year_groups", 11)
    with TestClient(app_on(world.engine)) as client:
        tomorrow = (today() + timedelta(days=1)).isoformat()
        late = client.get("/api/v1/indicators", params={"year": 2020, "as_of": tomorrow}, headers=world.operator)
        assert late.status_code == 422, late.text
        assert late.json()["errors"][0]["loc"] == ["query", "as_of"]
        bilan = client.get("/api/v1/bilan", params={"years": "2020", "as_of": tomorrow}, headers=world.operator)
        assert bilan.status_code == 422, bilan.text

        every_key = "action,family,operator,convention,territory,year"
        wide = client.get(
            "/api/v1/indicators",
            params={"from": "2019-01-01", "to": "2020-12-31", "group_by": every_key, "as_of": "2020-12-31"},
            headers=world.admin,
        )
        assert wide.status_code == 422, wide.text
        assert "= 12: at most 11" in wide.json()["detail"] and "PDI_INDICATORS_MAX_YEAR_GROUPS" in wide.json()["detail"]
        narrow = client.get(
            "/api/v1/indicators",
            params={"from": "2019-01-01", "to": "2020-12-31", "group_by": "action,year", "as_of": "2020-12-31"},
            headers=world.admin,
        )
        assert narrow.status_code == 200, narrow.text


def another_key(world, name: str) -> dict:
    """The Authorization header of a reader key of its own: a caller other than the operator."""
    from app.auth.models import Role
    from app.auth.service import create_key

    with world.session() as session:
        _row, key = create_key(session=session, role=Role.reader, name=name)
        session.commit()
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def operators_heavy_read_held(app, world) -> Iterator[None]:
    """The operator's /indicators running on `app`, held in its read session (the first read
    session the app opens) for as long as the block runs; it must then be answered 200."""
    entered, release = threading.Event(), threading.Event()
    held = []

    def first_read_held(request: Request):
        if not held:
            held.append(request)
            entered.set()
            release.wait(timeout=30)
        yield from request_session(world.engine, request)

    app.dependency_overrides[get_read_session] = first_read_held
    first: dict = {}

    def hold() -> None:
        with TestClient(app, raise_server_exceptions=False) as client:
            first["response"] = client.get("/api/v1/indicators", params={"year": 2020}, headers=world.operator)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(timeout=30)
        yield
    finally:
        release.set()
        holder.join(timeout=30)
    assert first["response"].status_code == 200, first["response"].text


def test_a_full_bulkhead_answers_503_while_the_catalogue_still_answers(world):
    app = app_on(world.engine, settings_with(heavy_reads_concurrency=1))
    with operators_heavy_read_held(app, world), TestClient(app, raise_server_exceptions=False) as client:
        refused = client.get("/api/v1/bilan", params={"years": "2020"}, headers=world.operator)
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"].endswith("/heavy-reads-busy")
        assert int(refused.headers["Retry-After"]) >= 1
        for _ in range(5):
            assert client.get("/api/v1/actions").status_code == 200
    with TestClient(app) as client:  # the slot is free again
        assert client.get("/api/v1/indicators", params={"year": 2020}, headers=world.operator).status_code == 200


def test_one_keys_flood_of_heavy_reads_never_turns_away_another_callers_bilan(world):
    """One key holds a heavy read (held in its session dependency) and floods more at once: each
    of those is a 503, while another key's bilan, and the first key's own once its read ends,
    are served."""
    another = another_key(world, "another caller")
    app = app_on(world.engine)

    def flooding(client):
        return client.get("/api/v1/bilan", params={"years": "2020"}, headers=world.operator)

    def other_callers_bilan(client):
        return client.get("/api/v1/bilan", params={"years": "2020"}, headers=another)

    with operators_heavy_read_held(app, world):
        answers = run_at_once(app, [flooding] * 6 + [other_callers_bilan])
        flood, served = answers[:6], answers[6]
        assert [answer.status_code for answer in flood] == [503] * 6, [a.text for a in flood]
        assert all(answer.json()["type"].endswith("/heavy-reads-busy") for answer in flood)
        assert all(int(answer.headers["Retry-After"]) >= 1 for answer in flood)
        assert served.status_code == 200, served.text
        assert served.json() != {}
    with TestClient(app) as client:  # the key's slot is free again
        assert client.get("/api/v1/bilan", params={"years": "2020"}, headers=world.operator).status_code == 200


def test_the_slots_per_caller_for_anonymous_callers_and_in_all():
    from app.core.bulkhead import HeavyReadsBusy, HeavyReadSlots

    slots = HeavyReadSlots(limit=3, per_caller=1, anonymous=1)
    first = slots.take("key:1")
    for refused in ("key:1", None):
        if refused is None:
            slots.take(None)  # the anonymous callers' one
        try:
            slots.take(refused)
        except HeavyReadsBusy:
            pass
        else:
            raise AssertionError(f"{refused} took a second slot")
    slots.take("key:2")  # the third, the last in all
    try:
        slots.take("key:3")
    except HeavyReadsBusy as exc:
        assert "At most 3" in exc.detail
    else:
        raise AssertionError("past the limit in all")
    slots.give_back(first)
    assert slots.take("key:3") == "key:3"
    assert slots.running == 3 and slots.refused == 3


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture
def shared_store(monkeypatch) -> str:
    """The Redis the rate limits share, its heavy-read slots under a prefix of this test only
    (parallel tests and earlier runs share the server)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        missing(f"no Redis at {REDIS_URL}", f"no Redis at {REDIS_URL}: CI must test the shared store")
    monkeypatch.setattr(SharedCallerSlots, "KEY_PREFIX", f"pdi-test:{uuid.uuid4().hex}:heavy-read:")
    return REDIS_URL


def test_a_callers_slot_in_the_shared_store_is_its_own_until_given_back_or_its_lease_lapses(shared_store):
    limits = RateLimits(settings_with(rate_limit_storage=shared_store))
    slots = SharedCallerSlots(limits, lease_seconds=0.2)
    held = slots.take("key:1", 1)
    assert held is not None and held[0].startswith(SharedCallerSlots.KEY_PREFIX)
    assert slots.take("key:1", 1) is None  # the same caller, elsewhere
    assert slots.take("key:2", 1) is not None  # another caller
    two = slots.take("key:3", 2), slots.take("key:3", 2)
    assert None not in two and slots.take("key:3", 2) is None
    slots.give_back(held)
    again = slots.take("key:1", 1)
    assert again is not None
    # A lease that lapsed and was taken again: the old holder's give-back leaves the new one's.
    limits.shared_connection().pexpire(again[0], 1)
    deadline = time.monotonic() + 5
    while limits.shared_connection().exists(again[0]) and time.monotonic() < deadline:
        pass  # the expiry is Redis's: at most a millisecond away
    newer = slots.take("key:1", 1)
    assert newer is not None
    slots.give_back(again)
    assert slots.take("key:1", 1) is None, "the old holder freed the new holder's slot"


def test_one_key_runs_one_heavy_read_across_workers_sharing_the_store(world, shared_store):
    """Two workers (two applications, one Redis): while a key's heavy read runs on the first, the
    same key's heavy read on the second is a 503, another key's is served; once the first ends,
    the key is served on the second."""
    another = another_key(world, "another caller, second worker")
    settings = settings_with(rate_limit_storage=shared_store)
    first_worker, second_worker = app_on(world.engine, settings), app_on(world.engine, settings)
    with (
        operators_heavy_read_held(first_worker, world),
        TestClient(second_worker, raise_server_exceptions=False) as client,
    ):
        refused = client.get("/api/v1/bilan", params={"years": "2020"}, headers=world.operator)
        assert refused.status_code == 503, refused.text
        assert "A caller runs at most 1 heavy read" in refused.json()["detail"]
        served = client.get("/api/v1/bilan", params={"years": "2020"}, headers=another)
        assert served.status_code == 200, served.text
    with TestClient(second_worker) as client:
        assert client.get("/api/v1/bilan", params={"years": "2020"}, headers=world.operator).status_code == 200


def test_an_unreachable_shared_store_lets_heavy_reads_through_on_the_workers_own_count(world):
    app = app_on(world.engine, settings_with(rate_limit_storage="redis://127.0.0.1:1"))
    with TestClient(app) as client:
        assert client.get("/api/v1/indicators", params={"year": 2020}, headers=world.operator).status_code == 200
        assert client.get("/api/v1/indicators", params={"year": 2020}, headers=world.operator).status_code == 200


def test_eight_worst_case_indicator_requests_leave_the_catalogue_answering(world):
    """The figure of the issue: 8 worst-case /indicators at once (every group key over the widest
    window the bound lets through) while a client reads /actions. Every /actions is a 200; every
    heavy one a 200, 422 or 503, all within the test's bound (run_at_once: no hang)."""
    app = app_on(world.engine)
    heavy = {
        "from": "2019-01-01",
        "to": "2024-12-31",
        "group_by": "action,family,operator,convention,territory,year",
        "as_of": "2024-12-31",
    }
    widest = {**heavy, "from": "2000-01-01", "to": "2100-12-31", "as_of": today().isoformat()}

    def indicators(params):
        return lambda client: client.get("/api/v1/indicators", params=params, headers=world.operator).status_code

    def catalogue(client):
        return [client.get("/api/v1/actions").status_code for _ in range(10)]

    answers = run_at_once(app, [indicators(heavy)] * 6 + [indicators(widest)] * 2 + [catalogue] * 2)
    heavy_answers, catalogue_answers = answers[:8], answers[8:]
    assert all(status in (200, 422, 503) for status in heavy_answers), heavy_answers
    assert all(status in (422, 503) for status in heavy_answers[6:]), heavy_answers  # over the bound: never run
    assert all(status == 200 for statuses in catalogue_answers for status in statuses), catalogue_answers


def test_a_hung_up_clients_statement_can_be_cancelled(world):
    """The disconnect watch of app/core/bulkhead.py, on the run's database: a request's
    connection registered, then cancelled, ends the slow statement at once."""
    cancelled = threading.Event()
    result: dict = {}
    connections = RequestConnections()

    def run() -> None:
        with world.engine.connect() as connection:
            connections.add(connection)
            cancelled.set()
            try:
                connection.exec_driver_sql(SLOW[connection.dialect.name]).scalar()
                result["outcome"] = "finished"
            except Exception as exc:  # the cancel's error, whatever the driver calls it
                result["outcome"] = type(exc).__name__

    worker = threading.Thread(target=run)
    worker.start()
    assert cancelled.wait(timeout=10)
    deadline = time.monotonic() + 10
    while worker.is_alive() and time.monotonic() < deadline:
        connections.cancel()
        worker.join(timeout=0.2)
    assert not worker.is_alive(), "the statement was not cancelled"
    assert result["outcome"] == "OperationalError", result
    with world.engine.connect() as connection:  # the pool's connection is usable afterwards
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_a_heavy_read_whose_client_hangs_up_has_its_statement_cancelled(world):
    """Through the application's middleware: a heavy read running a long statement, its client
    disconnecting once the statement runs; the statement ends at once (not after the 30 s or more
    it would take, nor after the statement budget, set high here)."""
    import asyncio

    app = probing_app(world, db_statement_timeout_ms=600_000, db_statement_timeout_admin_ms=600_000)
    running = threading.Event()

    @app.get("/api/v1/indicators/test-slow")  # under a heavy read's path: behind the bulkhead
    def slow(session: SessionDep) -> dict:
        connection = session.connection()
        running.set()
        connection.exec_driver_sql(SLOW[connection.dialect.name]).scalar()
        return {"finished": True}

    sent: list[dict] = []

    async def scenario() -> float:
        calls = 0

        async def receive():
            nonlocal calls
            calls += 1
            if calls == 1:
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.get_running_loop().run_in_executor(None, running.wait, 30)
            await asyncio.sleep(0.2)  # the statement under way
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/v1/indicators/test-slow",
            "raw_path": b"/api/v1/indicators/test-slow",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("192.0.2.9", 5000),
            "server": ("testserver", 80),
        }
        started = time.monotonic()
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app(scope, receive, send), timeout=60)
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert running.is_set()
    starts = [message for message in sent if message["type"] == "http.response.start"]
    assert starts and starts[0]["status"] != 200  # the statement did not finish
    assert elapsed < 20, elapsed  # cancelled, not run to its end


def test_the_slot_is_free_before_the_answers_end_reaches_the_client(shared_store):
    """A client that asks again the moment it is answered, on another worker, must find its slot
    free: when the response's last part is sent, the slot (here and in the store) is given back."""
    import asyncio

    from app.core.bulkhead import HeavyReadBulkhead, HeavyReadTicket

    async def heavy_read(scope, receive, send):
        await HeavyReadTicket.of(scope).admit("key:7")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        await send({"type": "http.response.body", "body": b"end"})

    limits = RateLimits(settings_with(rate_limit_storage=shared_store))
    bulkhead = HeavyReadBulkhead(heavy_read, prefixes=["/heavy"], limit=3, limits=limits)
    another_worker = SharedCallerSlots(limits)
    seen = []

    async def send(message):
        if message["type"] == "http.response.body":
            free_here = bulkhead.slots.running == 0
            taken = another_worker.take("key:7", 1)
            seen.append((message.get("more_body", False), free_here, taken is not None))
            if taken is not None:
                another_worker.give_back(taken)

    async def receive():
        await asyncio.Event().wait()  # the client says nothing more

    scope = {"type": "http", "method": "GET", "path": "/heavy", "headers": [], "query_string": b""}
    asyncio.run(bulkhead(scope, receive, send))
    assert seen == [(True, False, False), (False, True, True)]
