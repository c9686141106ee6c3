"""SPEC C3: a poller that keeps `next` while four clients write never misses a change: the state
it rebuilds equals the API's, and so does a replay of the feed from the start."""

import itertools
import threading

import pytest
from fastapi.testclient import TestClient

from tests.concurrency.conftest import World, client_of

pytestmark = pytest.mark.slow

API = "/api/v1"
WRITERS, ROUNDS = 4, 15
_codes = itertools.count(1)


def _apply(state: dict, items: list[dict]) -> None:
    for item in items:
        state[item["kind"], item["id"]] = item["data"] if item["state"] == "updated" else None


def _poll_until(client: TestClient, world: World, state: dict, after: int, stop: threading.Event) -> int:
    """Poll as the portal would, until the writers are done and a last poll brings nothing."""
    while True:
        done = stop.is_set()
        page = client.get(f"{API}/changes", params={"after": after, "limit": 50}, headers=world.admin).json()
        _apply(state, page["items"])
        after = page["next"]
        if done and not page["items"]:
            return after


def _writer(world: World, number: int, failures: list) -> None:
    with TestClient(world.app, raise_server_exceptions=False) as client:
        for round_ in range(ROUNDS):
            code = f"feed-w{number}-{next(_codes)}"
            answers = [
                client.post(f"{API}/families", json={"code": code, "name": "v1"}, headers=world.admin),
                client.patch(f"{API}/families/{code}", json={"name": f"v2-{round_}"}, headers=world.admin),
                client.post(
                    f"{API}/pathways",
                    json={
                        "convention_id": world.convention_id,
                        "beneficiary_ref": f"FEED-{code}",
                        "prescribed_on": "2024-04-01",
                    },
                    headers=world.operator,
                ),
            ]
            if round_ % 3 == 0:
                answers.append(client.delete(f"{API}/families/{code}", headers=world.admin))
            failures += [
                f"{a.request.method} {a.request.url.path}: {a.status_code}" for a in answers if a.status_code >= 300
            ]


def test_a_poller_rebuilds_the_state_while_others_write(world):
    with client_of(world) as client:
        start = client.get(f"{API}/changes", params={"after": 0, "limit": 1000}, headers=world.admin).json()
        state: dict = {}
        _apply(state, start["items"])
        after = start["next"]
        while True:  # catch up with what the other tests of the module wrote
            page = client.get(f"{API}/changes", params={"after": after, "limit": 1000}, headers=world.admin).json()
            if not page["items"]:
                break
            _apply(state, page["items"])
            after = page["next"]

        stop, failures = threading.Event(), []
        writers = [threading.Thread(target=_writer, args=(world, n, failures)) for n in range(WRITERS)]
        for thread in writers:
            thread.start()
        poller_result: list[int] = []
        poller = threading.Thread(target=lambda: poller_result.append(_poll_until(client, world, state, after, stop)))
        poller.start()
        for thread in writers:
            thread.join(timeout=120)
        stop.set()
        poller.join(timeout=120)
        assert failures == []
        assert poller_result, "the poller never finished"

        replay: dict = {}
        after = 0
        while True:
            page = client.get(f"{API}/changes", params={"after": after, "limit": 1000}, headers=world.admin).json()
            if not page["items"]:
                break
            _apply(replay, page["items"])
            after = page["next"]
        assert state == replay  # nothing missed, nothing stale

        written = {key: data for key, data in replay.items() if key[0] == "family" and key[1].startswith("feed-w")}
        assert len(written) == WRITERS * ROUNDS
        families = {f["code"]: f for f in client.get(f"{API}/families", params={"size": 500}).json()["items"]}
        for (_kind, code), data in written.items():
            assert data == families.get(code), code  # a deleted family is a tombstone (None) in both
        pathways = [key for key in replay if key[0] == "pathway"]
        for _kind, pathway_id in pathways[-20:]:
            assert (
                replay["pathway", pathway_id] == client.get(f"{API}/pathways/{pathway_id}", headers=world.admin).json()
            )
