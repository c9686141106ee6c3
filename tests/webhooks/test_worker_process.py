"""`pdi worker` as a process: killed with SIGKILL in the middle of a burst and started again, it
loses nothing; SIGTERM stops it cleanly, the delivery in flight finished."""

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.concurrency.conftest import client_of
from tests.webhooks.conftest import feed_after, subscribe, wait_until
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import prescribe

pytestmark = pytest.mark.slow

PDI = str(Path(sys.executable).with_name("pdi"))


def start_worker(world, stderr=subprocess.PIPE) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": world.engine.url.render_as_string(hide_password=False),
        "PDI_WEBHOOK_ALLOW_PRIVATE": "true",
        "PDI_WORKER_POLL_SECONDS": "0.05",
        # A killed worker's lease lapses after this: the restarted one takes its endpoint over.
        "PDI_WORKER_LEASE_SECONDS": "2",
    }
    return subprocess.Popen([PDI, "worker", "--concurrency", "2"], env=env, stderr=stderr, text=True)


def test_a_worker_killed_mid_burst_and_restarted_loses_nothing(world):
    with Receiver(delay=0.02) as receiver, client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/burst", kinds=["pathway"])
        for n in range(40):
            prescribe(client, world, world.admin, f"WH-BURST-{n}")
        worker = start_worker(world)
        try:
            wait_until(
                lambda: len(receiver.delivered("/burst")) >= 10, timeout=60, message="the worker delivered nothing"
            )
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            killed_at = len(receiver.delivered("/burst"))
            assert killed_at < 40, "the burst was over before the kill: nothing was tested"
            worker = start_worker(world, stderr=subprocess.DEVNULL)
            expected = [
                str(item["cursor"]) for item in feed_after(client, world.admin, endpoint["cursor"], {"pathway"})
            ]
            wait_until(
                lambda: {item.webhook_id for item in receiver.delivered("/burst")} >= set(expected),
                timeout=90,
                message="events lost after the kill",
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        ids = [item.webhook_id for item in receiver.delivered("/burst")]
        assert receiver.unverified == []
        # In order, and at most the event in flight at the kill delivered twice.
        assert [int(i) for i in dict.fromkeys(ids)] == sorted({int(i) for i in ids})
        assert len(ids) - len(set(ids)) <= 1
        assert set(ids) == set(expected)


def test_sigterm_stops_the_worker_cleanly(world):
    worker = start_worker(world)
    try:
        ready, _, _ = select.select([worker.stderr], [], [], 30)
        assert ready and "delivering webhooks" in worker.stderr.readline()  # its signal handlers are set
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert "stopped" in worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()
