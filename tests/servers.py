"""Servers tests start in processes of their own: a free loopback port, and a wait until they answer."""

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

# The tests' servers take their ports from a range of their xdist worker's own, below the ports the
# kernel hands out for outgoing connections (32768 and up on Linux): a port the kernel calls free
# (port 0) could be handed to another worker's server, or to a connection, between the moment it is
# found and the moment the server binds it. Within a worker the tests run one at a time, and the
# ports are taken in turn, so that one just closed is not the next.
FIRST_PORT = 20_000
PORTS_PER_WORKER = 1_000
_next_in_range: dict[int, int] = {}


def free_port() -> int:
    """A loopback port nobody listens on, from this worker's range."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = FIRST_PORT + (int(worker) if worker.isdigit() else 0) % 12 * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        offset = _next_in_range.get(start, 0)
        _next_in_range[start] = (offset + 1) % PORTS_PER_WORKER
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", start + offset))
            except OSError:
                continue  # taken: by a server still running, or by another program
            return start + offset
    raise RuntimeError(f"no free port in {start}–{start + PORTS_PER_WORKER - 1}")


def wait_until_serving(process: subprocess.Popen, port: int, log: Path, *, seconds: float = 120) -> None:
    """Return once `GET /healthz` answers 200 on the port; fail with the server's log if the
    process ends first or the time runs out."""
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=5, trust_env=False) as http:
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
