"""Request heads bounded at the server (issue 22): `pdi serve` runs uvicorn's h11 parser with a cap
on the request head's bytes (PDI_MAX_HEADER_BYTES) and a time limit for it to arrive
(PDI_HEADER_TIMEOUT_SECONDS); the application refuses more than PDI_MAX_HEADERS fields (431)."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.core.test_body_limit import PROJECT, _memory_kb
from tests.servers import free_port, wait_until_serving

pytestmark = pytest.mark.slow

MB = 1_000_000


def test_too_many_header_fields_are_refused_with_431(client):
    headers = {f"X-Filler-{index}": "x" for index in range(120)}
    response = client.get("/api/v1/families", headers=headers)
    assert response.status_code == 431, response.text
    assert response.json()["type"].endswith("/headers-too-large")
    assert client.get("/api/v1/families", headers=dict(list(headers.items())[:50])).status_code == 200


def test_headers_over_the_byte_cap_are_refused_with_431_whatever_the_server(client):
    # A head that reaches the application whole (h11 only bounds what it buffers of an unfinished one).
    response = client.get("/api/v1/families", headers={"X-Big": "a" * 40_000})
    assert response.status_code == 431, response.text
    assert "PDI_MAX_HEADER_BYTES" in response.json()["detail"]
    assert client.get("/api/v1/families", headers={"X-Big": "a" * 20_000}).status_code == 200


@pytest.fixture
def served(engine, tmp_path):
    """`pdi serve` on the test database, in its own process, with a 1 s header timeout."""
    port = free_port()
    log = tmp_path / "server.log"
    env = os.environ.copy() | {"PDI_HEADER_TIMEOUT_SECONDS": "1"}
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(process, port, log)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=15)


def _send_header(port: int, size: int) -> bytes:
    head = b"GET /api/v1/families HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: "
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        try:
            connection.sendall(head)
            sent = 0
            while sent < size:
                connection.sendall(b"a" * 65_536)
                sent += 65_536
            connection.sendall(b"\r\n\r\n")
        except OSError:
            pass  # refused and closed before the end: what we want
        try:
            while part := connection.recv(65_536):
                answer += part
        except OSError:
            pass
    return answer


def test_a_1_mb_header_is_refused_without_growing_the_server(served):
    pid, port = served
    before = _memory_kb(pid)
    answers = [_send_header(port, MB) for _ in range(4)]
    after = _memory_kb(pid)
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    growth_kb = after["VmHWM"] - before["VmHWM"]
    print(f"four 1 MB headers: peak RSS +{growth_kb} kB, {after}")
    assert growth_kb < 4_000, f"the server's peak memory grew by {growth_kb} kB"
    with httpx.Client(timeout=5, trust_env=False) as http:  # still serving
        assert http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200


def test_a_request_head_that_trickles_in_is_cut_off(served):
    _pid, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end
        started = time.monotonic()
        closed = connection.recv(1024)  # blocks until the server closes
        waited = time.monotonic() - started
    assert closed == b""
    assert waited < 15  # closed by the server (1 s here), not by this socket's own 20 s timeout
    # Prompt requests, two on one connection, are served.
    with httpx.Client(timeout=5, trust_env=False) as http:
        assert http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
