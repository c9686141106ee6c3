"""A PostgreSQL restart while the worker delivers a burst loses nothing: progress is committed
only after a 2xx, so an event whose outcome could not be written is sent again. The database is
a private cluster of this test (tests/concurrency/test_database_outage.py)."""

import threading

import pytest

from tests.concurrency.conftest import client_of, world_on
from tests.concurrency.test_database_outage import private_postgres  # noqa: F401  (the fixture)
from tests.webhooks.conftest import feed_after, subscribe, wait_until, worker_of
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import prescribe

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]


def test_a_restart_during_delivery_loses_nothing(private_postgres):  # noqa: F811
    world = world_on(private_postgres.url)
    with Receiver(delay=0.02) as receiver, client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/restart", kinds=["pathway"])
        for n in range(40):
            prescribe(client, world, world.admin, f"WH-RESTART-{n}")
        expected = [str(item["cursor"]) for item in feed_after(client, world.admin, endpoint["cursor"], {"pathway"})]
        # A lease that lapses fast: the one held when the connection dropped is not given back.
        worker = worker_of(world, concurrency=2, lease_seconds=2)
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            wait_until(lambda: len(receiver.delivered("/restart")) >= 8, timeout=60)
            private_postgres.restart("fast")
            wait_until(lambda: len(receiver.delivered("/restart")) >= 20, timeout=90)
            private_postgres.restart("immediate")
            wait_until(
                lambda: {item.webhook_id for item in receiver.delivered("/restart")} >= set(expected),
                timeout=120,
                message="events lost across the restarts",
            )
        finally:
            worker.stop.set()
            thread.join(timeout=60)
        assert not thread.is_alive()
        ids = [item.webhook_id for item in receiver.delivered("/restart")]
        assert receiver.unverified == []
        assert set(ids) == set(expected)
        assert [int(i) for i in dict.fromkeys(ids)] == sorted({int(i) for i in ids})  # in order
        print(f"\nrestart test: {len(expected)} events, {len(ids) - len(set(ids))} sent twice")
    world.engine.dispose()
