"""The body cap (SPEC C2): every body is refused past PDI_MAX_BODY_BYTES while it arrives, before
it is parsed and before the key is checked; /exit-records keeps its own, larger cap."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from app.core.config import get_settings
from tests.servers import free_port, wait_until_serving

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
MB = 1_000_000


def assert_payload_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/payload-too-large")


def test_a_declared_length_over_the_cap_is_refused_before_the_key_is_checked(client):
    limit = get_settings().max_body_bytes
    response = client.post(
        "/api/v1/actions",
        content=b"{" + b" " * limit + b"}",
        headers={"Content-Type": "application/json", "Authorization": "Bearer not-a-key"},
    )
    assert_payload_too_large(response)
    assert str(limit) in response.json()["detail"]


def test_a_streamed_body_is_counted_as_it_arrives(client):
    limit = get_settings().max_body_bytes

    def chunks():  # no Content-Length: chunked transfer
        for _ in range(limit // 10_000 + 2):
            yield b" " * 10_000

    response = client.post("/api/v1/families", content=chunks(), headers={"Content-Type": "application/json"})
    assert_payload_too_large(response)


def test_a_body_under_the_cap_reaches_the_route(client):
    response = client.post("/api/v1/families", json={"code": "x", "name": "X"})
    assert response.status_code == 401  # parsed, then refused for want of a key


def test_exit_records_keep_their_own_larger_cap(client, admin):
    settings = get_settings()
    assert settings.max_batch_bytes > settings.max_body_bytes
    item = {"pathway_id": 2_000_000_000, "exited_on": "2020-01-01", "exit_reason": "training"}
    padding = " " * (settings.max_body_bytes + 1000)
    body = ("[" + json.dumps(item) + padding + "]").encode()
    response = client.post("/api/v1/exit-records", content=body, headers={**admin, "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["counts"] == {"created": 0, "unchanged": 0, "error": 1}
    too_big = b"[" + b" " * settings.max_batch_bytes + b"]"
    response = client.post(
        "/api/v1/exit-records", content=too_big, headers={**admin, "Content-Type": "application/json"}
    )
    assert_payload_too_large(response)


# --- a real server ------------------------------------------------------------------------------


def _memory_kb(pid: int) -> dict[str, int]:
    """Resident memory now (VmRSS) and at its peak so far (VmHWM), in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def _send_huge_body(port: int, size: int, *, declare_length: bool) -> bytes:
    """POST `size` bytes to /api/v1/actions as an anonymous stranger; the server's answer."""
    head = "POST /api/v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {size}\r\n" if declare_length else "Transfer-Encoding: chunked\r\n"
    chunk = b"[" * 65_536
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:

        def send_body():
            try:
                connection.sendall((head + "\r\n").encode())
                sent = 0
                while sent < size:
                    part = chunk[: size - sent]
                    connection.sendall(part if declare_length else b"%x\r\n%s\r\n" % (len(part), part))
                    sent += len(part)
                if not declare_length:
                    connection.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed: the rest was never wanted

        sender = threading.Thread(target=send_body)
        sender.start()
        answer = b""
        try:
            while part := connection.recv(65_536):
                answer += part
        except OSError:
            pass
        sender.join(timeout=30)
    return answer


@pytest.fixture
def server(engine, tmp_path):
    """uvicorn serving the app on the test database, in its own process."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--no-server-header"],
            cwd=PROJECT,
            env=os.environ.copy(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(process, port, log)
        with httpx.Client(timeout=5, trust_env=False) as http:
            # Warm up the paths the test takes, so that first-use allocations are not counted.
            for _ in range(3):
                http.post(f"http://127.0.0.1:{port}/api/v1/actions", json={"code": "x"})
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_a_24_mb_anonymous_body_costs_the_server_no_more_than_a_few_mb(server, declare_length):
    pid, port = server
    before = _memory_kb(pid)
    answer = _send_huge_body(port, 24 * MB, declare_length=declare_length)
    after = _memory_kb(pid)

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413 "), answer[:500]
    assert b"payload-too-large" in rest
    assert b"\r\nserver:" not in answer.lower()
    growth_kb = after["VmHWM"] - before["VmHWM"]
    print(f"24 MB body ({'declared' if declare_length else 'chunked'}): peak RSS +{growth_kb} kB, {after}")
    assert growth_kb < 4_000, f"the server's peak memory grew by {growth_kb} kB"
