"""SPEC C1, a database outage: operators' scripts keep posting pathways while PostgreSQL restarts
(`fast`, then `immediate`, then a stop and start). The service answers 503 with Retry-After while
the database is away, never a 500; /readyz says so; it recovers by itself; every 201 is stored,
and nothing is stored twice. The PostgreSQL is a private cluster of this test (initdb/pg_ctl on
a free loopback port), never the shared server."""

import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import func, select

from app.core.config import get_settings
from app.core.db import PdiSession
from app.core.security import pseudonymise
from app.pathways.models import Beneficiary, Pathway
from tests.concurrency.conftest import World, app_on, world_on
from tests.concurrency.test_availability_cache import URL, wait_until, watch_of
from tests.helpers import missing
from tests.servers import free_port

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

API = "/api/v1"
WRITERS = 4
PER_WRITER = 60
# A client's patience for one item: it retries after each 503 (as Retry-After asks), this often.
MAX_ATTEMPTS = 400


def _postgres_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
    return bindir if (bindir / "initdb").exists() else None


class PrivateCluster:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1 only. As root, its commands run
    as the `postgres` user (PostgreSQL refuses to run as root)."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="pdi-private-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/pdi"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str) -> None:
        # Not `pg_ctl restart`: it would start the server without `-l`, writing to our pipe.
        self.stop(mode)
        self.start()

    def processes(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, walwriter…)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:  # ended meanwhile
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry.name))
        return [postmaster, *children]

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Every process of the server stopped (SIGSTOP), as a hung host or a paused VM: its
        kernel still accepts connections and acknowledges what is sent, nothing answers."""
        stopped = []
        try:
            for pid in self.processes():
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            yield
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)

    def __enter__(self) -> "PrivateCluster":
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        server = create_engine(self.url.replace("/pdi", "/postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(text("CREATE DATABASE pdi"))
        server.dispose()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_postgres():
    bindir = _postgres_bindir()
    if bindir is None:
        missing(
            "needs PostgreSQL's server binaries (initdb, pg_ctl)",
            "initdb/pg_ctl not found (pg_config --bindir): the outage test cannot be skipped in CI",
        )
    with PrivateCluster(bindir) as cluster:
        yield cluster


class Script:
    """An operator's script: posts its pathways one by one, and after a 503 waits and sends the
    same item again, as Retry-After asks."""

    def __init__(self, world: World, refs: list[str]):
        self.world, self.refs = world, refs
        self.answers: Counter[int] = Counter()
        self.acknowledged: list[str] = []  # 201
        self.already_stored: list[str] = []  # 409 on a retry: the earlier attempt had committed
        self.unexpected: list[str] = []
        self.without_retry_after = 0

    def run(self) -> None:
        with TestClient(self.world.app, raise_server_exceptions=False) as client:
            for ref in self.refs:
                self._post(client, ref)

    def _post(self, client: TestClient, ref: str) -> None:
        body = {"convention_id": self.world.convention_id, "beneficiary_ref": ref, "prescribed_on": "2024-05-02"}
        for attempt in range(MAX_ATTEMPTS):
            answer = client.post(f"{API}/pathways", json=body, headers=self.world.operator)
            self.answers[answer.status_code] += 1
            if answer.status_code == 201:
                self.acknowledged.append(ref)
                return
            if answer.status_code == 409 and attempt > 0:
                self.already_stored.append(ref)
                return
            if answer.status_code != 503:
                self.unexpected.append(f"{ref}: {answer.status_code} {answer.text}")
                return
            if "Retry-After" not in answer.headers:
                self.without_retry_after += 1
            time.sleep(0.05)  # a script's back-off, shortened: Retry-After says 5 s
        self.unexpected.append(f"{ref}: still 503 after {MAX_ATTEMPTS} attempts")


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_writes_survive_restarts_with_503s_and_no_loss(private_postgres, caplog):
    caplog.set_level(logging.INFO)
    world = world_on(private_postgres.url)
    refs = [f"OUTAGE-{writer}-{item}" for writer in range(WRITERS) for item in range(PER_WRITER)]
    scripts = [Script(world, refs[writer * PER_WRITER : (writer + 1) * PER_WRITER]) for writer in range(WRITERS)]
    threads = [threading.Thread(target=script.run) for script in scripts]
    done = lambda: sum(len(s.acknowledged) + len(s.already_stored) for s in scripts)  # noqa: E731

    for thread in threads:
        thread.start()
    readiness_while_down = None
    try:
        _wait_for(lambda: done() >= 20)
        private_postgres.restart("fast")
        _wait_for(lambda: done() >= 80)
        private_postgres.restart("immediate")
        _wait_for(lambda: done() >= 140)
        private_postgres.stop("immediate")
        with TestClient(world.app, raise_server_exceptions=False) as client:
            readiness_while_down = client.get("/readyz").status_code
        private_postgres.start()
    finally:
        for thread in threads:
            thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)

    answers = sum((script.answers for script in scripts), Counter())
    print(f"\noutage test: answers {dict(answers)}")
    assert set(answers) <= {201, 409, 503}, answers  # never a 500
    assert answers[503] > 0  # the outages were met
    assert readiness_while_down == 503
    assert [problem for script in scripts for problem in script.unexpected] == []
    assert sum(script.without_retry_after for script in scripts) == 0
    with TestClient(world.app) as client:
        assert client.get("/readyz").status_code == 200  # back by itself

    acknowledged = [ref for script in scripts for ref in script.acknowledged]
    already_stored = [ref for script in scripts for ref in script.already_stored]
    assert sorted(acknowledged + already_stored) == sorted(refs)  # every item ended 201 or stored
    secret = get_settings().secret_key
    with PdiSession(world.engine) as session:
        stored = dict(
            session.exec(
                select(Beneficiary.ref_hash, func.count(Pathway.id))
                .join(Pathway, Pathway.beneficiary_id == Beneficiary.id)
                .where(Pathway.convention_id == world.convention_id)
                .group_by(Beneficiary.ref_hash)
            ).all()
        )
    by_hash = {pseudonymise(ref, secret=secret): ref for ref in refs}
    lost = [ref for ref in acknowledged if ref not in {by_hash.get(h) for h in stored}]
    twice = [by_hash.get(h, h) for h, count in stored.items() if count > 1]
    print(
        f"outage test: {len(acknowledged)} acknowledged, {len(already_stored)} found stored on retry, "
        f"{len(lost)} lost, {len(twice)} stored twice"
    )
    assert lost == [] and twice == []
    assert len(stored) == len(refs)

    # No log line carries SQL parameters: neither a file number nor its pseudonym.
    logged = caplog.text
    assert not any(ref in logged for ref in refs)
    assert not any(ref_hash in logged for ref_hash in by_hash)
    world.engine.dispose()


def test_availability_from_memory_survives_a_restart(private_postgres):
    """The workers' feed watch loses its connection when PostgreSQL stops: availability is then
    built by the route (503 while the database is away, never a stale page served as fresh), and
    once the database is back the watch listens again and a write made after the restart shows."""
    world = world_on(private_postgres.url)
    settings = get_settings().model_copy(update={"database_url": private_postgres.url, "availability_cache": True})
    app = app_on(world.engine, settings)
    watch = watch_of(app)
    question = {"on": "2024-06-15"}
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_until(lambda: watch.cursor is not None)
        before = client.get(URL, params=question)
        assert before.status_code == 200

        private_postgres.stop("fast")
        wait_until(lambda: watch.cursor is None, seconds=30)
        assert client.get(URL, params=question).status_code == 503  # the route, not the kept page

        private_postgres.start()
        wait_until(lambda: watch.cursor is not None, seconds=60)
        listened_from = watch.cursor
        body = {"convention_id": world.convention_id, "beneficiary_ref": "AFTER-RESTART", "prescribed_on": "2024-06-01"}
        statuses = []

        def posted() -> bool:  # sent again while the pool's connections find the database back
            statuses.append(client.post(f"{API}/pathways", json=body, headers=world.admin).status_code)
            return statuses[-1] != 503

        _wait_for(posted)
        assert statuses[-1] == 201, statuses
        wait_until(lambda: watch.cursor > listened_from, seconds=30)
        after = client.get(URL, params=question)
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    [item] = [i for i in after.json()["items"] if i["convention_id"] == world.convention_id]
    [old] = [i for i in before.json()["items"] if i["convention_id"] == world.convention_id]
    assert item["reserved"] == old["reserved"] + 1
    world.engine.dispose()


def test_a_frozen_database_is_answered(private_postgres):
    """PostgreSQL stopped with SIGSTOP (nothing refuses a connection, nothing answers): /readyz
    says 503 within 5 s, /healthz answers, a request waiting on the database gets a 503 with
    Retry-After within its statement budget; all recover once the server runs again."""
    world = world_on(private_postgres.url)
    budget = get_settings().db_statement_timeout_ms / 1000
    with TestClient(world.app, raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        assert client.get(f"{API}/families").status_code == 200  # a pooled connection to wait on
        with private_postgres.frozen():
            started = time.monotonic()
            ready = client.get("/readyz")
            readiness_took = time.monotonic() - started
            assert client.get("/healthz").status_code == 200
            started = time.monotonic()
            families = client.get(f"{API}/families")
            request_took = time.monotonic() - started
            again = client.get("/readyz")  # the check still waiting is not started once more
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable", ready.text
        assert readiness_took < 5, readiness_took
        assert again.status_code == 503
        assert families.status_code == 503, families.text
        assert families.headers["content-type"] == "application/problem+json"
        assert int(families.headers["Retry-After"]) > 0
        assert request_took <= budget, (request_took, budget)
        print(f"\nfrozen database: readyz 503 in {readiness_took:.1f} s, a request 503 in {request_took:.1f} s")

        _wait_for(lambda: client.get("/readyz").status_code == 200, timeout=60)
        _wait_for(lambda: client.get(f"{API}/families").status_code == 200, timeout=60)
    world.engine.dispose()


def test_a_statement_sent_to_a_frozen_database_ends_with_its_budget(private_postgres):
    """A request that holds its connection when the server stops, then sends a statement: the
    server cannot enforce statement_timeout; the client's own limit (the budget and a second) ends it,
    503 with Retry-After, and the connection is not given back to the pool."""
    from app.core.db import SessionDep

    world = world_on(private_postgres.url)
    connected, frozen = threading.Event(), threading.Event()

    @world.app.get("/test/statement-on-a-frozen-server")
    def statement(session: SessionDep) -> dict:
        session.connection()  # checked out, and pinged, while the server runs
        connected.set()
        assert frozen.wait(timeout=30)
        return {"one": session.connection().exec_driver_sql("SELECT 1").scalar()}

    answer: dict = {}

    def ask() -> None:
        with TestClient(world.app, raise_server_exceptions=False) as client:
            started = time.monotonic()
            answer["response"] = client.get("/test/statement-on-a-frozen-server")
            answer["took"] = time.monotonic() - started

    budget = get_settings().db_statement_timeout_ms / 1000
    asking = threading.Thread(target=ask)
    asking.start()
    try:
        assert connected.wait(timeout=30)
        with private_postgres.frozen():
            started = time.monotonic()
            frozen.set()
            asking.join(timeout=budget + 30)
            waited = time.monotonic() - started
    finally:
        frozen.set()
        asking.join(timeout=60)
    response = answer["response"]
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert budget <= waited <= budget + 3, waited  # the budget's wait and its grace, not the server's
    print(f"\nfrozen database: a statement 503 after {waited:.1f} s (budget {budget:g} s)")
    with TestClient(world.app) as client:
        _wait_for(lambda: client.get(f"{API}/families").status_code == 200, timeout=60)
    world.engine.dispose()
