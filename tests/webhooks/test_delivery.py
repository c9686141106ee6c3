"""Deliveries for real: API writes committed, a worker run in the test, a receiver on 127.0.0.1
verifying every signature with `standardwebhooks` (tests/webhooks/receiver.py)."""

import random
import socket
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from app.auth.models import Role
from app.auth.service import create_key
from app.core.config import get_settings
from app.core.time import utcnow
from app.webhooks.delivery import SCHEDULE, next_delay
from app.webhooks.models import WebhookEndpoint
from tests.concurrency.conftest import client_of
from tests.webhooks.conftest import API, feed_after, subscribe, wait_until, worker_of

pytestmark = pytest.mark.slow

TODAY = utcnow().date().isoformat()


@pytest.fixture(autouse=True)
def endpoints_of_this_test_only(world):
    """Each test's endpoints point to its own receiver: they are deleted when it ends (the
    admin key's quota of endpoints is the next test's too)."""
    yield
    with world.session() as session:
        session.execute(delete(WebhookEndpoint))
        session.commit()


def prescribe(client, world, headers, ref, convention_id=None):
    body = {"convention_id": convention_id or world.convention_id, "beneficiary_ref": ref, "prescribed_on": TODAY}
    answer = client.post(f"{API}/pathways", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def comparable(item: dict) -> dict:
    return {name: item[name] for name in ("cursor", "kind", "id", "state", "data")}


def test_a_delivery_for_each_kind_of_write(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/all")
        family = client.post(f"{API}/families", json={"code": "wh-fam", "name": "Famille"}, headers=world.admin)
        gone = client.post(f"{API}/families", json={"code": "wh-gone", "name": "Partie"}, headers=world.admin)
        action = client.post(
            f"{API}/actions",
            json={"code": "wh-act", "number": 901, "family": "wh-fam", "name": "Action"},
            headers=world.admin,
        )
        operator = client.post(f"{API}/operators", json={"name": "Opérateur webhooks"}, headers=world.admin)
        assert {family.status_code, gone.status_code, action.status_code, operator.status_code} == {201}
        operator_id = operator.json()["id"]
        site = client.post(
            f"{API}/operators/{operator_id}/sites", json={"name": "Site", "commune": "Sablé"}, headers=world.admin
        )
        assert site.status_code == 201, site.text
        convention = client.post(
            f"{API}/conventions",
            json={
                "reference": "WH-CONV",
                "action": "wh-act",
                "operator_id": operator_id,
                "start_on": "2026-01-01",
                "end_on": "2027-12-31",
                "years": [{"year": 2026, "places": 3}],
            },
            headers=world.admin,
        )
        assert convention.status_code == 201, convention.text
        pathway = prescribe(client, world, world.admin, "WH-KIND-1", convention_id=convention.json()["id"])
        assert client.delete(f"{API}/families/wh-gone", headers=world.admin).status_code == 204

        assert worker_of(world).run_once() > 0
        received = receiver.delivered("/all")
        assert receiver.unverified == []
        types = {item.body["type"] for item in received}
        assert types >= {
            "family.updated",
            "family.deleted",
            "action.updated",
            "operator.updated",
            "site.updated",
            "convention.updated",
            "availability.updated",
            "pathway.updated",
        }, types
        ids = [int(item.webhook_id) for item in received]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)  # feed order, once each
        for item in received:
            assert item.webhook_id == str(item.body["data"]["cursor"])
            assert item.body["type"] == f"{item.body['data']['kind']}.{item.body['data']['state']}"
        by_key = {(item.body["data"]["kind"], item.body["data"]["id"]): item.body["data"] for item in received}
        assert by_key["pathway", str(pathway["id"])]["data"]["status"] == pathway["status"]
        assert by_key["family", "wh-gone"]["data"] is None
        read = client.get(f"{API}/webhooks/{endpoint['id']}", headers=world.admin).json()
        assert read["cursor"] == ids[-1] and read["attempts"] == 0


def test_deliveries_equal_the_feed_as_each_owner_reads_it(world, receiver):
    """An operator's endpoint never receives another operator's pathway; a portal's gets those it created."""
    with world.session() as session:
        from tests import factories

        other = factories.operator(session)
        other_convention = factories.convention(
            session,
            action_id=_action_id(session, world),
            operator_id=other.id,
            start_on=utcnow().date().replace(month=1, day=1),
            end_on=utcnow().date().replace(month=12, day=31),
            years={utcnow().year: {"places": 20}},
        )
        _row, other_key = create_key(session=session, role=Role.operator, name="other", operator_id=other.id)
        _row, portal_key = create_key(session=session, role=Role.portal, name="portal")
        session.commit()
        other_convention_id = other_convention.id
    other_operator = {"Authorization": f"Bearer {other_key}"}
    portal = {"Authorization": f"Bearer {portal_key}"}
    with client_of(world) as client:
        endpoints = {
            "/operator": subscribe(client, receiver, world.operator, "/operator"),
            "/other": subscribe(client, receiver, other_operator, "/other"),
            "/portal": subscribe(client, receiver, portal, "/portal"),
            "/admin-pathways": subscribe(client, receiver, world.admin, "/admin-pathways", kinds=["pathway"]),
        }
        mine = [prescribe(client, world, world.operator, f"WH-MINE-{n}")["id"] for n in range(3)]
        theirs = [
            prescribe(client, world, other_operator, f"WH-THEIRS-{n}", convention_id=other_convention_id)["id"]
            for n in range(3)
        ]
        by_portal = prescribe(client, world, portal, "WH-PORTAL-1", convention_id=other_convention_id)["id"]

        worker_of(world).run_once()
        assert receiver.unverified == []
        owners = {
            "/operator": world.operator,
            "/other": other_operator,
            "/portal": portal,
            "/admin-pathways": world.admin,
        }
        for path, endpoint in endpoints.items():
            kinds = {"pathway"} if path == "/admin-pathways" else None
            feed = [comparable(item) for item in feed_after(client, owners[path], endpoint["cursor"], kinds)]
            delivered = [comparable(item.body["data"]) for item in receiver.delivered(path)]
            assert delivered == feed, path
            assert feed  # the comparison compared something

        def pathways(path):
            return {
                int(item.body["data"]["id"])
                for item in receiver.delivered(path)
                if item.body["data"]["kind"] == "pathway"
            }

        assert pathways("/operator") == set(mine)
        assert pathways("/other") == set(theirs) | {by_portal}  # the portal prescribed on its convention
        assert pathways("/portal") == {by_portal}
        assert pathways("/admin-pathways") == set(mine) | set(theirs) | {by_portal}


def _action_id(session, world):
    from sqlmodel import select

    from app.catalogue.models import Action

    return session.exec(select(Action.id).where(Action.code == world.action_code)).one()


def test_a_receiver_failing_then_recovering_gets_everything_in_order(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/flaky", kinds=["pathway"])
        receiver.fail("/flaky", 500, 500, 503, (429, {"Retry-After": "0"}), 502)
        created = [prescribe(client, world, world.admin, f"WH-FLAKY-{n}")["id"] for n in range(6)]
        worker_of(world).run_once()
        delivered = receiver.delivered("/flaky")
        assert [int(item.body["data"]["id"]) for item in delivered] == created
        ids = [int(item.webhook_id) for item in delivered]
        assert ids == sorted(ids)
        # The failed attempts were of the first event, the same webhook-id each time (at least once, in order).
        failed = [item for item in receiver.received if item.path == "/flaky" and item.answered >= 300]
        assert [item.webhook_id for item in failed] == [delivered[0].webhook_id] * 5
        log = client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=world.admin).json()
        assert log["total"] == 11
        attempts = list(reversed(log["items"]))
        assert [a["status_code"] for a in attempts[:6]] == [500, 500, 503, 429, 502, 204]
        assert [a["attempt"] for a in attempts[:6]] == [1, 2, 3, 4, 5, 6]
        assert [a["outcome"] for a in attempts[:6]] == ["http_error"] * 5 + ["delivered"]
        assert all(a["next_attempt_at"] for a in attempts[:5]) and attempts[5]["next_attempt_at"] is None
        assert all(a["event_id"] == delivered[0].webhook_id for a in attempts[:6])


def test_the_schedule_with_jitter_and_retry_after():
    rng = random.Random(7)
    for attempts, base in enumerate(SCHEDULE, start=1):
        for _ in range(50):
            delay = next_delay(attempts=attempts, schedule=SCHEDULE, jitter=0.1, rng=rng, retry_after=None)
            assert base * 0.9 <= delay <= base * 1.1
    assert (
        86400 * 0.9 <= next_delay(attempts=30, schedule=SCHEDULE, jitter=0.1, rng=rng, retry_after=None) <= 86400 * 1.1
    )
    assert next_delay(attempts=1, schedule=SCHEDULE, jitter=0.1, rng=rng, retry_after=600) == 600
    assert next_delay(attempts=3, schedule=SCHEDULE, jitter=0.1, rng=rng, retry_after=1) >= 1800 * 0.9


def test_retry_after_is_honoured(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/busy", kinds=["pathway"])
        receiver.fail("/busy", (503, {"Retry-After": "120"}))
        prescribe(client, world, world.admin, "WH-BUSY-1")
        before = utcnow()
        worker_of(world, schedule=SCHEDULE).run_once()
        read = client.get(f"{API}/webhooks/{endpoint['id']}", headers=world.admin).json()
        assert read["attempts"] == 1
        from datetime import datetime

        wait = datetime.fromisoformat(read["next_attempt_at"]) - before
        assert timedelta(seconds=119) <= wait <= timedelta(seconds=125)
        assert receiver.delivered("/busy") == []  # not due again: the worker did not retry


def test_a_410_disables_the_endpoint_and_patch_re_enables_it(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/gone", kinds=["pathway"])
        receiver.fail("/gone", 410)
        created = prescribe(client, world, world.admin, "WH-GONE-1")["id"]
        worker_of(world).run_once()
        path = f"{API}/webhooks/{endpoint['id']}"
        read = client.get(path, headers=world.admin).json()
        assert read["state"] == "disabled" and "410" in read["disabled_reason"]
        worker_of(world).run_once()
        assert receiver.delivered("/gone") == []  # a disabled endpoint gets nothing
        assert client.patch(path, json={"state": "active"}, headers=world.admin).json()["state"] == "active"
        worker_of(world).run_once()
        assert [int(item.body["data"]["id"]) for item in receiver.delivered("/gone")] == [created]


def test_five_days_of_failures_disable_the_endpoint(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/down", kinds=["pathway"])
        receiver.fail("/down", 500)
        prescribe(client, world, world.admin, "WH-DOWN-1")
        with world.session() as session:
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint["id"])
                .values(failing_since=utcnow() - timedelta(days=5, minutes=1), attempts=11)
            )
            session.commit()
        worker_of(world).run_once()
        read = client.get(f"{API}/webhooks/{endpoint['id']}", headers=world.admin).json()
        assert read["state"] == "disabled" and "5 days" in read["disabled_reason"]


def test_both_secrets_sign_for_a_day_after_a_rotation(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/rotated", kinds=["pathway"])
        rotated = client.post(f"{API}/webhooks/{endpoint['id']}/rotate-secret", headers=world.admin).json()
        receiver.expect("/rotated", endpoint["secret"], rotated["secret"])  # each must verify alone
        prescribe(client, world, world.admin, "WH-ROTATED-1")
        worker_of(world).run_once()
        assert receiver.unverified == []
        [delivery] = receiver.delivered("/rotated")
        assert len(delivery.signatures.split(" ")) == 2
        with world.session() as session:
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint["id"])
                .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
            )
            session.commit()
        receiver.expect("/rotated", rotated["secret"])
        prescribe(client, world, world.admin, "WH-ROTATED-2")
        worker_of(world).run_once()
        assert len(receiver.delivered("/rotated")[-1].signatures.split(" ")) == 1


def test_replay_delivers_again_from_a_cursor(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/replay", kinds=["pathway"])
        created = [prescribe(client, world, world.admin, f"WH-REPLAY-{n}")["id"] for n in range(3)]
        worker_of(world).run_once()
        first = receiver.delivered("/replay")
        assert len(first) == 3
        after = int(first[0].webhook_id)
        replayed = client.post(f"{API}/webhooks/{endpoint['id']}/replay", json={"after": after}, headers=world.admin)
        assert replayed.status_code == 200
        worker_of(world).run_once()
        again = receiver.delivered("/replay")[3:]
        assert [int(item.body["data"]["id"]) for item in again] == created[1:]
        assert [item.webhook_id for item in again] == [item.webhook_id for item in first[1:]]


def test_a_name_that_resolves_privately_at_connection_time_is_refused(world, receiver, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", False)
    answers = {"address": "93.184.215.14"}
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *args, **kwargs: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers["address"], port))],
    )
    with client_of(world) as client:
        created = client.post(
            f"{API}/webhooks", json={"url": "https://hooks.example.org/pdi", "kinds": ["pathway"]}, headers=world.admin
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        answers["address"] = "127.0.0.1"  # the name now points inside (DNS rebinding)
        prescribe(client, world, world.admin, "WH-REBIND-1")
        settings = get_settings().model_copy(update={"webhook_allow_private": False})
        worker = worker_of(world, schedule=SCHEDULE)  # one attempt, then 5 s to wait
        worker.settings = settings
        worker.run_once()
        log = client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=world.admin).json()
        assert log["items"][0]["outcome"] == "address_refused"
        # Refused, without telling the endpoint's owner what the name resolves to.
        assert "non-public" in log["items"][0]["error"] and "127.0.0.1" not in log["items"][0]["error"]
        assert log["items"][0]["status_code"] is None
        assert log["total"] == 1
        assert receiver.received == []
        client.delete(f"{API}/webhooks/{endpoint['id']}", headers=world.admin)


def test_two_workers_never_deliver_one_event_twice(world, receiver):
    with client_of(world) as client:
        paths = [f"/shared-{n}" for n in range(4)]
        endpoints = [subscribe(client, receiver, world.admin, path) for path in paths]
        for n in range(15):
            prescribe(client, world, world.admin, f"WH-SHARED-{n}")
        workers = [worker_of(world, concurrency=3), worker_of(world, concurrency=3)]
        threads = [threading.Thread(target=worker.run) for worker in workers]
        for thread in threads:
            thread.start()
        try:

            def caught_up() -> bool:
                return all(
                    client.get(f"{API}/webhooks/{e['id']}", headers=world.admin).json()["cursor"]
                    >= max(i["cursor"] for i in feed_after(client, world.admin, e["cursor"]) or [{"cursor": 0}])
                    for e in endpoints
                )

            wait_until(caught_up, timeout=120)
        finally:
            for worker in workers:
                worker.stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert receiver.unverified == []
        for path, endpoint in zip(paths, endpoints, strict=True):
            ids = [item.webhook_id for item in receiver.delivered(path)]
            assert [id for id, n in Counter(ids).items() if n > 1] == [], path
            feed = [str(item["cursor"]) for item in feed_after(client, world.admin, endpoint["cursor"])]
            assert ids == feed, path


def test_metrics_count_deliveries_and_show_one_lag_for_all_endpoints(world, receiver):
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, world.admin, "/metered", kinds=["pathway"])
        prescribe(client, world, world.admin, "WH-METERED-1")
        text = client.get("/metrics").text
        assert float(_lag(text)) >= 0
        # No series names an endpoint: who may read /metrics learns nothing of one tenant's receiver.
        assert f'endpoint="{endpoint["id"]}"' not in text and "endpoint=" not in _lines(text, "pdi_webhook")
        delivered_before = _delivered(text)
        worker_of(world).run_once()
        text = client.get("/metrics").text
        assert _delivered(text) == delivered_before + 1
        assert float(_lag(text)) == 0.0


def _lines(text: str, prefix: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.startswith(prefix))


def _lag(text: str) -> str:
    [line] = [line for line in text.splitlines() if line.startswith("pdi_webhook_lag_seconds")]
    return line.split()[-1]


def _delivered(text: str) -> float:
    [line] = [
        line for line in text.splitlines() if line.startswith('pdi_webhook_deliveries_total{outcome="delivered"}')
    ]
    return float(line.split()[-1])


def test_a_rotated_key_keeps_its_endpoints_and_a_revoked_one_disables_them(world, receiver):
    from app.auth.service import revoke_key, rotate_key

    with world.session() as session:
        row, key = create_key(session=session, role=Role.portal, name="to rotate")
        session.commit()
        old_id = row.id
    old = {"Authorization": f"Bearer {key}"}
    with client_of(world) as client:
        endpoint = subscribe(client, receiver, old, "/rotated-key", kinds=["pathway"])
        with world.session() as session:
            _old, new_row, new_key = rotate_key(session=session, key_id=old_id, grace_days=0)
            session.commit()
            new_id = new_row.id
        new = {"Authorization": f"Bearer {new_key}"}
        assert client.get(f"{API}/webhooks/{endpoint['id']}", headers=old).status_code == 401  # expired
        assert [item["id"] for item in client.get(f"{API}/webhooks", headers=new).json()["items"]] == [endpoint["id"]]
        created = prescribe(client, world, new, "WH-ROTATED-KEY-1")["id"]  # read with the new key's rights
        worker_of(world).run_once()
        assert [int(item.body["data"]["id"]) for item in receiver.delivered("/rotated-key")] == [created]
        read = client.get(f"{API}/webhooks/{endpoint['id']}", headers=new).json()
        assert read["owner_key_id"] == new_id and read["state"] == "active"
        with world.session() as session:
            revoke_key(session=session, key_id=new_id)
            session.commit()
        prescribe(client, world, world.admin, "WH-ROTATED-KEY-2")
        worker_of(world).run_once()
        assert len(receiver.delivered("/rotated-key")) == 1  # nothing more
        read = client.get(f"{API}/webhooks/{endpoint['id']}", headers=world.admin).json()
        assert read["state"] == "disabled" and "revoked" in read["disabled_reason"]
