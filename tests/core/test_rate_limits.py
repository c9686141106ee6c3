"""Rate limits (SPEC C2): anonymous calls per address, calls per key, failed authentications per
address; 429 problem with Retry-After; counters in memory or in a shared Redis.

The suite's own app runs without limits (tests/conftest.py); these tests build apps with them on.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings
from app.core.db import get_session
from app.main import create_app
from tests.helpers import missing
from tests.servers import free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture
def limited_app(session):
    """`limited_app(**settings)` → an app with those limits, bound to the test's session."""

    def make(**limits: str):
        limits = {"rate_limit_anonymous": "0", "rate_limit_key": "0", "rate_limit_auth_failures": "0"} | limits
        app = create_app(Settings(**limits))
        app.dependency_overrides[get_session] = lambda: session
        return app

    return make


@contextmanager
def client_at(app, address: str) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, client=(address, 40000)) as client:
        yield client


def assert_too_many(response, window_seconds: int = 60) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/too-many-requests")
    assert 1 <= int(response.headers["retry-after"]) <= window_seconds


def test_anonymous_calls_are_limited_per_address(limited_app):
    app = limited_app(rate_limit_anonymous="3/minute")
    with client_at(app, "192.0.2.1") as stranger, client_at(app, "192.0.2.2") as neighbour:
        assert [stranger.get("/api/v1/families").status_code for _ in range(3)] == [200] * 3
        for path in ("/api/v1/families", "/api/v1/reference/exit-reasons"):
            assert_too_many(stranger.get(path))
        assert neighbour.get("/api/v1/availability").status_code == 200


def test_health_checks_and_scrapes_spend_no_budget(limited_app, make_key):
    # A load balancer behind the same NAT as busy clients, a Prometheus with a key: never a 429.
    app = limited_app(rate_limit_anonymous="2/minute", rate_limit_key="2/minute")
    admin = make_key("admin")
    with client_at(app, "192.0.2.1") as client:
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200
            assert client.get("/metrics", headers=admin).status_code == 200
        assert [client.get("/api/v1/families").status_code for _ in range(2)] == [200, 200]
        assert_too_many(client.get("/api/v1/families"))
        assert client.get("/healthz").status_code == 200


def test_calls_are_limited_per_key_whatever_the_address(limited_app, make_key):
    app = limited_app(rate_limit_key="4/minute", rate_limit_anonymous="100/minute")
    busy, other = make_key("reader"), make_key("reader")
    with client_at(app, "192.0.2.1") as first, client_at(app, "192.0.2.2") as second:
        assert [first.get("/api/v1/conventions", headers=busy).status_code for _ in range(2)] == [200] * 2
        assert [second.get("/api/v1/conventions", headers=busy).status_code for _ in range(2)] == [200] * 2
        assert_too_many(second.get("/api/v1/conventions", headers=busy))
        assert_too_many(first.get("/api/v1/families", headers=busy))
        assert first.get("/api/v1/conventions", headers=other).status_code == 200
        assert first.get("/api/v1/families").status_code == 200  # anonymous: its own budget


def test_failed_authentications_are_limited_per_address(limited_app, make_key):
    app = limited_app(rate_limit_auth_failures="2/minute", rate_limit_anonymous="100/minute")
    good = make_key("reader")
    with client_at(app, "192.0.2.1") as guesser, client_at(app, "192.0.2.2") as honest:
        for guess in ("Bearer pdi_guess-1", "Basic Z3Vlc3M6Mg=="):
            assert guesser.get("/api/v1/families", headers={"Authorization": guess}).status_code == 401
        # Out of failures: further guesses are refused, on health paths too, without a word on the key...
        assert_too_many(guesser.get("/api/v1/families", headers={"Authorization": "Bearer pdi_guess-3"}))
        assert_too_many(guesser.get("/healthz", headers={"Authorization": "Bearer pdi_guess-4"}))
        # ...but a valid key from the same address (the same NAT) is never locked out by them.
        assert [guesser.get("/api/v1/conventions", headers=good).status_code for _ in range(3)] == [200] * 3
        assert guesser.get("/api/v1/families").status_code == 200  # no header: an anonymous call
        assert honest.get("/api/v1/conventions", headers=good).status_code == 200


def test_a_successful_call_spends_no_failure(limited_app, make_key):
    app = limited_app(rate_limit_auth_failures="1/minute")
    good = make_key("reader")
    with client_at(app, "192.0.2.1") as client:
        assert [client.get("/api/v1/conventions", headers=good).status_code for _ in range(5)] == [200] * 5


@pytest.mark.parametrize("off", ["0", "", " "])
def test_a_limit_set_to_0_or_empty_is_off(limited_app, off):
    app = limited_app(rate_limit_anonymous=off)
    with client_at(app, "192.0.2.1") as client:
        assert {client.get("/api/v1/reference/exit-reasons").status_code for _ in range(30)} == {200}


def test_several_limits_in_one_setting(limited_app):
    app = limited_app(rate_limit_anonymous="2/second;100/minute")
    with client_at(app, "192.0.2.1") as client:
        assert [client.get("/api/v1/reference/exit-reasons").status_code for _ in range(2)] == [200, 200]
        assert_too_many(client.get("/api/v1/reference/exit-reasons"), window_seconds=1)


@pytest.mark.parametrize("bad", ["120 per fortnight", "lots", "-1/minute"])
def test_a_malformed_limit_is_refused_at_start(bad):
    with pytest.raises(ValidationError):
        Settings(rate_limit_anonymous=bad)


def test_the_defaults_are_those_of_the_spec():
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["rate_limit_anonymous"] == "120/minute"
    assert defaults["rate_limit_key"] == "1200/minute"
    assert defaults["rate_limit_auth_failures"] == "20/minute"
    assert defaults["rate_limit_storage"] == "memory://"


def _redis_answers() -> bool:
    host, port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_instances_sharing_a_redis_share_the_counters(limited_app):
    if not _redis_answers():
        missing(f"no Redis at {REDIS_URL}", f"no Redis at {REDIS_URL}: CI must test the shared store")
    # Two instances of the service, one store; an address of this run only, so that no earlier
    # run's counters count.
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"
    first_instance = limited_app(rate_limit_anonymous="4/minute", rate_limit_storage=REDIS_URL)
    second_instance = limited_app(rate_limit_anonymous="4/minute", rate_limit_storage=REDIS_URL)
    with client_at(first_instance, address) as first, client_at(second_instance, address) as second:
        path = "/api/v1/reference/exit-reasons"
        assert [first.get(path).status_code for _ in range(2)] == [200, 200]
        assert [second.get(path).status_code for _ in range(2)] == [200, 200]
        assert_too_many(first.get(path))
        assert_too_many(second.get(path))


def test_an_unreachable_store_lets_requests_through(limited_app):
    # Refusing every client because the shared store is down would be an outage of our own making.
    app = limited_app(rate_limit_anonymous="1/minute", rate_limit_storage="redis://127.0.0.1:1")
    with client_at(app, "192.0.2.1") as client:
        assert [client.get("/api/v1/reference/exit-reasons").status_code for _ in range(3)] == [200] * 3
        scrape = client.get("/metrics").text
    assert "pdi_rate_limit_store_failures_total 1.0" in scrape  # tried once, then skipped for a while
    assert "pdi_rate_limit_store_up 0.0" in scrape


@pytest.mark.slow
def test_a_stalled_store_costs_one_timeout_then_is_skipped(limited_app, tmp_path):
    """A Redis that stops answering (SIGSTOP): requests are let through after one socket timeout,
    then the store is skipped; /healthz spends no budget, so it never asks the store."""
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server to start")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        # A skip longer than the test, however slow the machine: the store is tried once.
        store = {"rate_limit_storage": f"redis://127.0.0.1:{port}", "rate_limit_storage_retry_seconds": "60"}
        app = limited_app(rate_limit_anonymous="100/minute", **store)
        path = "/api/v1/reference/exit-reasons"
        with client_at(app, "192.0.2.1") as client:
            assert client.get(path).status_code == 200  # counted in Redis
            os.kill(server.pid, signal.SIGSTOP)
            started = time.monotonic()
            assert client.get(path).status_code == 200  # one socket timeout, then let through
            assert [client.get(path).status_code for _ in range(5)] == [200] * 5  # store skipped
            assert client.get("/healthz").status_code == 200
            assert time.monotonic() - started < 10  # did not hang on the stalled store
            scrape = client.get("/metrics").text
        # One call waited for the socket timeout; the five after it and /healthz never asked the store.
        assert "pdi_rate_limit_store_failures_total 1.0" in scrape
        assert "pdi_rate_limit_store_up 0.0" in scrape
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.terminate()
        server.wait(timeout=10)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"redis-server did not listen on {port}")
