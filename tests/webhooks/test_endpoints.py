"""POST/GET/PATCH/DELETE /webhooks and their rules, through HTTP (rolled-back session)."""

import base64
import socket

import pytest
from sqlmodel import select

from app.auth.models import Role
from app.core.config import get_settings
from app.webhooks import secrets
from app.webhooks.models import WebhookEndpoint
from tests import factories

pytestmark = pytest.mark.slow

API = "/api/v1/webhooks"
URL = "http://127.0.0.1:9/hooks"


def create(client, headers, url=URL, **fields):
    return client.post(API, json={"url": url, **fields}, headers=headers)


def test_created_by_admin_portal_and_operator_keys_with_a_secret_shown_once(client, session, make_key, admin, portal):
    operator = make_key(Role.operator, operator_id=factories.operator(session).id)
    for headers in (admin, portal, operator):
        answer = create(client, headers, kinds=["pathway", "availability"], description="portail")
        assert answer.status_code == 201, answer.text
        endpoint = answer.json()
        assert endpoint["state"] == "active" and endpoint["kinds"] == ["availability", "pathway"]
        assert endpoint["secret"].startswith("whsec_")
        assert 24 <= len(base64.b64decode(endpoint["secret"].removeprefix("whsec_"))) <= 64
        read = client.get(f"{API}/{endpoint['id']}", headers=headers)
        assert read.status_code == 200 and "secret" not in read.json()
        assert read.json()["url"] == URL and read.json()["description"] == "portail"
        assert read.headers["cache-control"] == "no-store"


def test_readers_and_anonymous_callers_cannot(client, reader):
    assert create(client, reader).status_code == 403
    assert create(client, {}).status_code == 401
    assert client.get(API, headers=reader).status_code == 403


def test_the_secret_is_stored_encrypted(client, session, admin):
    endpoint = create(client, admin).json()
    row = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint["id"])).one()
    assert endpoint["secret"] not in row.secret_encrypted
    assert endpoint["secret"].removeprefix("whsec_") not in row.secret_encrypted
    assert secrets.decrypt(row.secret_encrypted, secret_key=get_settings().secret_key) == endpoint["secret"]


def test_each_key_sees_its_own_and_another_owners_endpoint_is_a_404(client, make_key, portal, admin):
    other_portal = make_key(Role.portal)
    mine = create(client, portal).json()
    theirs = create(client, other_portal).json()
    assert [item["id"] for item in client.get(API, headers=portal).json()["items"]] == [mine["id"]]
    every = [item["id"] for item in client.get(API, headers=admin, params={"size": 500}).json()["items"]]
    assert {mine["id"], theirs["id"]} <= set(every)
    path = f"{API}/{theirs['id']}"
    assert client.get(path, headers=portal).status_code == 404
    assert client.patch(path, json={"description": "x"}, headers=portal).status_code == 404
    assert client.delete(path, headers=portal).status_code == 404
    assert client.post(f"{path}/rotate-secret", headers=portal).status_code == 404
    assert client.post(f"{path}/replay", json={"after": 0}, headers=portal).status_code == 404
    assert client.get(f"{path}/deliveries", headers=portal).status_code == 404
    assert client.get(path, headers=other_portal).json()["description"] is None  # untouched


def test_patch_honours_if_match_and_re_enables(client, session, admin):
    endpoint = create(client, admin).json()
    path = f"{API}/{endpoint['id']}"
    etag = client.get(path, headers=admin).headers["etag"]
    changed = client.patch(path, json={"state": "disabled"}, headers={**admin, "If-Match": etag})
    assert changed.status_code == 200 and changed.json()["state"] == "disabled"
    assert client.patch(path, json={"description": "stale"}, headers={**admin, "If-Match": etag}).status_code == 412
    again = client.patch(path, json={"state": "active", "kinds": ["family"]}, headers=admin)
    assert again.status_code == 200
    read = client.get(path, headers=admin).json()
    assert read["state"] == "active" and read["disabled_reason"] is None and read["kinds"] == ["family"]


def test_delete_then_404(client, admin):
    endpoint = create(client, admin).json()
    assert client.delete(f"{API}/{endpoint['id']}", headers=admin).status_code == 204
    assert client.get(f"{API}/{endpoint['id']}", headers=admin).status_code == 404


def test_rotation_gives_a_new_secret_and_keeps_the_old_one_24_hours(client, session, admin):
    endpoint = create(client, admin).json()
    rotated = client.post(f"{API}/{endpoint['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != endpoint["secret"] and rotated.json()["previous_secret_expires_at"]
    row = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint["id"])).one()
    key = get_settings().secret_key
    assert secrets.decrypt(row.previous_secret_encrypted, secret_key=key) == endpoint["secret"]
    assert secrets.decrypt(row.secret_encrypted, secret_key=key) == rotated.json()["secret"]


def test_replay_moves_the_cursor_back_and_refuses_one_past_the_feed(client, admin):
    endpoint = create(client, admin).json()
    replayed = client.post(f"{API}/{endpoint['id']}/replay", json={"after": 0}, headers=admin)
    assert replayed.status_code == 200 and replayed.json()["cursor"] == 0
    assert client.get(f"{API}/{endpoint['id']}", headers=admin).json()["cursor"] == 0
    far = client.post(f"{API}/{endpoint['id']}/replay", json={"after": 2**40}, headers=admin)
    assert far.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hooks",  # http, and loopback
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest",  # a cloud's metadata service
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://localhost/hooks",  # a name resolving to loopback
        "ftp://example.org/hooks",
        "https://user:pass@example.org/hooks",
    ],
)
def test_private_addresses_and_other_schemes_are_refused_without_the_setting(client, admin, monkeypatch, url):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", False)
    answer = create(client, admin, url=url)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert client.get(API, headers=admin).json()["total"] == 0  # nothing stored


def test_a_public_name_is_accepted_and_the_setting_allows_private_ones(client, admin, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", False)
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: public)
    assert create(client, admin, url="https://hooks.example.org/pdi").status_code == 201
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)
    assert create(client, admin, url="http://127.0.0.1:9/hooks").status_code == 201


def test_unknown_fields_and_kinds_are_refused(client, admin):
    assert create(client, admin, secret="mine").status_code == 422
    assert create(client, admin, kinds=["beneficiary"]).status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "https://[fec0::1]/hooks",  # site-local
        "https://[2002:7f00:1::1]/hooks",  # 6to4, carrying 127.0.0.1
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hooks",  # Teredo
        "https://93.184.215.14:8443/hooks",  # a public address, another port than 443 or 80
        "https://93.184.215.14:22/hooks",
    ],
)
def test_tunnels_site_local_addresses_and_other_ports_are_refused(client, admin, monkeypatch, url):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", False)
    answer = create(client, admin, url=url)
    assert answer.status_code == 422, answer.text
    assert client.get(API, headers=admin).json()["total"] == 0


def test_a_refusal_does_not_say_what_a_name_resolves_to(client, admin, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", False)
    inside = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: inside)
    answer = create(client, admin, url="https://intranet.example.org/hooks")
    assert answer.status_code == 422, answer.text
    assert "non-public" in answer.text and "10.20.30.40" not in answer.text


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/ho\x07oks", "http://127.0.0.1:9/a\x00b", "http://127.0.0.1:9/a b"])
def test_a_url_with_control_characters_or_spaces_is_refused(client, admin, url):
    answer = create(client, admin, url=url)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "url"]
    assert client.get(API, headers=admin).json()["total"] == 0


def test_bodies_follow_every_bodys_input_rules(client, admin):
    assert create(client, admin, description="bell\x07").status_code == 422
    endpoint = create(client, admin).json()
    path = f"{API}/{endpoint['id']}"
    assert client.patch(path, json={"description": "esc\x1b[31m"}, headers=admin).status_code == 422
    for after in (True, False, "0", 1.0):
        answer = client.post(f"{path}/replay", json={"after": after}, headers=admin)
        assert answer.status_code == 422, (after, answer.text)
        assert answer.json()["errors"][0]["loc"] == ["body", "after"]
    assert client.get(path, headers=admin).json()["cursor"] == endpoint["cursor"]  # not moved


def test_a_key_has_at_most_its_quota_of_endpoints(client, admin, make_key):
    assert get_settings().webhook_max_endpoints == 10
    created = [create(client, admin, url=f"{URL}/{n}") for n in range(10)]
    assert {answer.status_code for answer in created} == {201}
    eleventh = create(client, admin, url=f"{URL}/10")
    assert eleventh.status_code == 409, eleventh.text
    assert eleventh.headers["content-type"] == "application/problem+json"
    assert client.get(API, headers=admin).json()["total"] == 10
    assert create(client, make_key(Role.portal)).status_code == 201  # another key has its own
    client.delete(f"{API}/{created[0].json()['id']}", headers=admin)
    assert create(client, admin, url=f"{URL}/10").status_code == 201


def test_replays_are_limited_per_hour(client, admin, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_replays_per_hour", 2)
    endpoint = create(client, admin).json()
    path = f"{API}/{endpoint['id']}/replay"
    assert [client.post(path, json={"after": 0}, headers=admin).status_code for _ in range(2)] == [200, 200]
    third = client.post(path, json={"after": 0}, headers=admin)
    assert third.status_code == 429, third.text
    assert int(third.headers["retry-after"]) > 0
