"""One tenant's endpoint cannot stall or starve the others' (issue 32): a receiver that drips its
answer is cut at the attempt's deadline while another owner's receiver gets every event; an
endpoint disabled while events are in flight gets nothing more; whatever fails in a turn is
recorded and the delivery thread goes on; an internationalised host is requested in punycode."""

import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, update
from sqlmodel import select

from app.auth.models import Role
from app.auth.service import create_key
from app.webhooks.delivery import SCHEDULE
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.concurrency.conftest import client_of
from tests.webhooks.conftest import API, feed_after, subscribe, wait_until, worker_of
from tests.webhooks.receiver import DrippingReceiver
from tests.webhooks.test_delivery import prescribe

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def endpoints_of_this_test_only(world):
    yield
    with world.session() as session:
        session.execute(delete(WebhookEndpoint))
        session.commit()


@pytest.fixture
def portal(world) -> dict:
    with world.session() as session:
        _row, key = create_key(session=session, role=Role.portal, name="tenant")
        session.commit()
    return {"Authorization": f"Bearer {key}"}


def running(worker):
    thread = threading.Thread(target=worker.run)
    thread.start()
    return thread


def stopped(worker, thread) -> None:
    worker.stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive()


def attempts_of(world, endpoint_id: int) -> list[WebhookDelivery]:
    with world.session() as session:
        return list(
            session.exec(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id).order_by(WebhookDelivery.id)
            )
        )


def test_a_dripping_receiver_is_cut_at_the_deadline_and_another_owner_gets_every_event(world, receiver, portal):
    with DrippingReceiver() as drip, client_of(world) as client:
        created = client.post(f"{API}/webhooks", json={"url": drip.url("/drip")}, headers=portal)
        assert created.status_code == 201, created.text
        dripping = created.json()
        normal = subscribe(client, receiver, world.admin, "/normal", kinds=["pathway"])
        for n in range(12):
            prescribe(client, world, world.admin, f"WH-DRIP-{n}")
        expected = [str(item["cursor"]) for item in feed_after(client, world.admin, normal["cursor"], {"pathway"})]
        # A lease of 2 s, shorter than a drip of about 9 s: an attempt that outlived it would let
        # the other thread claim the endpoint and be caught too.
        worker = worker_of(world, concurrency=2, lease_seconds=2, attempt_seconds=1.0)
        thread = running(worker)
        try:
            wait_until(lambda: [item.webhook_id for item in receiver.delivered("/normal")] == expected, timeout=60)
            wait_until(lambda: len(attempts_of(world, dripping["id"])) >= 3, timeout=60)
        finally:
            stopped(worker, thread)
        assert not drip.finished.is_set()  # no answer was waited for to its end
        attempts = attempts_of(world, dripping["id"])
        assert {attempt.outcome for attempt in attempts} == {"transport_error"}
        assert all("no complete answer within" in attempt.error for attempt in attempts), [a.error for a in attempts]
        # One attempt at a time: each began after the previous one ended (the log's own times).
        spans = [
            (attempt.attempted_at - timedelta(milliseconds=attempt.duration_ms), attempt.attempted_at)
            for attempt in attempts
        ]
        for (_start, end), (next_start, _end) in zip(spans, spans[1:], strict=False):
            assert next_start >= end - timedelta(milliseconds=50), spans
        assert drip.connections == len(attempts)


def test_an_endpoint_disabled_while_events_are_in_flight_gets_nothing_more(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/stopped", kinds=["pathway"])
        for n in range(4):
            prescribe(client, world, world.admin, f"WH-STOPPED-{n}")

        def disable_on_first(_delivery) -> None:
            if len(receiver.received) == 1:
                answer = client.patch(
                    f"{API}/webhooks/{endpoint['id']}", json={"state": "disabled"}, headers=world.admin
                )
                assert answer.status_code == 200, answer.text

        receiver.on_delivery = disable_on_first
        worker_of(world).run_once()
        assert len(receiver.delivered("/stopped")) == 1  # the page had four: the rest were not sent
        worker_of(world).run_once()
        assert len(receiver.received) == 1
        read = client.get(f"{API}/webhooks/{endpoint['id']}", headers=world.admin).json()
        assert read["state"] == "disabled" and read["cursor"] == int(receiver.received[0].webhook_id)


def test_a_disabled_endpoint_receives_nothing(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/off", kinds=["pathway"])
        assert client.patch(f"{API}/webhooks/{endpoint['id']}", json={"state": "disabled"}, headers=world.admin)
        prescribe(client, world, world.admin, "WH-OFF-1")
        assert worker_of(world).run_once() == 0
        assert receiver.received == []
        assert client.patch(f"{API}/webhooks/{endpoint['id']}", json={"state": "active"}, headers=world.admin)
        worker_of(world).run_once()
        assert len(receiver.delivered("/off")) == 1  # the same worker does deliver to it once active


def test_whatever_fails_in_a_turn_is_recorded_and_the_thread_goes_on(world, receiver):
    """Rows written around the API (before its rules, or by hand): a URL httpx cannot send, a
    secret that no longer decrypts. Each is that endpoint's failure; the healthy one gets all."""
    with client_of(world) as client:
        broken_url = subscribe(client, receiver, world.admin, "/broken-url", kinds=["pathway"])
        broken_secret = subscribe(client, receiver, world.admin, "/broken-secret", kinds=["pathway"])
        healthy = subscribe(client, receiver, world.admin, "/healthy", kinds=["pathway"])
        with world.session() as session:
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == broken_url["id"])
                .values(url=receiver.url("/broken\x07url"))
            )
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == broken_secret["id"])
                .values(secret_encrypted="not-a-fernet-token")
            )
            session.commit()
        for n in range(3):
            prescribe(client, world, world.admin, f"WH-BROKEN-{n}")
        expected = [str(item["cursor"]) for item in feed_after(client, world.admin, healthy["cursor"], {"pathway"})]
        worker = worker_of(world, concurrency=1, schedule=SCHEDULE)
        thread = running(worker)
        try:
            wait_until(lambda: [item.webhook_id for item in receiver.delivered("/healthy")] == expected, timeout=60)
            wait_until(lambda: attempts_of(world, broken_url["id"]) != [], timeout=60)

            def put_off() -> bool:
                read = client.get(f"{API}/webhooks/{broken_secret['id']}", headers=world.admin).json()
                return read["attempts"] == 1 and read["next_attempt_at"] is not None

            wait_until(put_off, timeout=60)
            assert thread.is_alive()
        finally:
            stopped(worker, thread)
        [failed] = attempts_of(world, broken_url["id"])
        assert failed.outcome in ("transport_error", "address_refused") and failed.status_code is None
        assert not [item for item in receiver.received if item.path != "/healthy"]


def test_an_internationalised_host_is_requested_in_punycode(world, receiver, monkeypatch):
    asked = []
    port = receiver.server.server_address[1]

    def resolver(host, port, *args, **kwargs):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with client_of(world) as client:
        created = client.post(
            f"{API}/webhooks",
            json={"url": f"http://bücher.example:{port}/idn", "kinds": ["pathway"]},
            headers=world.admin,
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert endpoint["url"] == f"http://xn--bcher-kva.example:{port}/idn"
        receiver.expect("/idn", endpoint["secret"])
        prescribe(client, world, world.admin, "WH-IDN-1")
        worker_of(world).run_once()
        [delivery] = receiver.delivered("/idn")
        assert delivery.host == f"xn--bcher-kva.example:{port}"
        # The name resolved is the encoded one (then the connection goes to the address checked).
        assert set(asked) - {"127.0.0.1"} == {"xn--bcher-kva.example"}


def test_owners_take_turns(world, receiver, portal):
    """One owner with three busy endpoints, another with one: a worker serves the second owner
    right after the first owner's first endpoint, not after all three."""
    with client_of(world) as client:
        for path in ("/a1", "/a2", "/a3"):
            subscribe(client, receiver, world.admin, path, kinds=["pathway"])
        subscribe(client, receiver, portal, "/b", kinds=["pathway"])
        prescribe(client, world, portal, "WH-TURNS-B")  # the portal reads the pathways it created
        for n in range(2):
            prescribe(client, world, world.admin, f"WH-TURNS-A-{n}")
        worker_of(world, concurrency=1).run_once()
        first_seen = list(dict.fromkeys(item.path for item in receiver.received))
        assert first_seen == ["/a1", "/b", "/a2", "/a3"], first_seen
        assert all(len(receiver.delivered(path)) == 3 for path in ("/a1", "/a2", "/a3"))
        assert len(receiver.delivered("/b")) == 1
