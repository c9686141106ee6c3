"""Servers tests start in processes of their own: a free loopback port, and a wait until they answer."""

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
