"""Webhooks for real: a committed database of the run's kind (as tests/concurrency/ use), a
receiver verifying signatures, and workers run in the test (their retry delays made zero)."""

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.webhooks.worker import Worker
from tests.concurrency.conftest import World, world_on
from tests.scratch import scratch_database
from tests.webhooks.receiver import Receiver

API = "/api/v1"
NO_DELAYS = (0.0,) * 9


@pytest.fixture(autouse=True)
def allow_private(monkeypatch):
    """The receiver listens on 127.0.0.1: allowed here as PDI_WEBHOOK_ALLOW_PRIVATE=true allows it."""
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    with scratch_database(tmp_path_factory.mktemp("webhooks"), "pdi_webhooks") as url:
        world = world_on(url)
        yield world
        world.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def worker_of(world: World, *, attempt_seconds: float = 15.0, **options) -> Worker:
    settings = get_settings().model_copy(
        update={
            "webhook_allow_private": True,
            "worker_poll_seconds": 0.02,
            "webhook_attempt_seconds": attempt_seconds,
        }
    )
    options.setdefault("schedule", NO_DELAYS)
    return Worker(engine=world.engine, settings=settings, jobs=[], **options)


def subscribe(client: TestClient, receiver: Receiver, headers: dict, path: str, **fields) -> dict:
    answer = client.post(f"{API}/webhooks", json={"url": receiver.url(path), **fields}, headers=headers)
    assert answer.status_code == 201, answer.text
    endpoint = answer.json()
    receiver.expect(path, endpoint["secret"])
    return endpoint


def feed_after(client: TestClient, headers: dict, after: int, kinds: set[str] | None = None) -> list[dict]:
    """Every item of GET /changes after a cursor, as that key reads it."""
    items = []
    while True:
        page = client.get(f"{API}/changes", params={"after": after, "limit": 1000}, headers=headers).json()
        items += [item for item in page["items"] if kinds is None or item["kind"] in kinds]
        if not page["items"]:
            return items
        after = page["next"]


def wait_until(condition, timeout: float = 60.0, message: str = "timed out") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.02)
