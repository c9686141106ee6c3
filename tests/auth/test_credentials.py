"""Credentials (SPEC C2): any bad Authorization header is a 401 on every route; keys expire,
rotate, and remember their last use; no serving beyond loopback with the default secret."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import Session, delete, select
from typer.testing import CliRunner

from app.auth import dependencies
from app.auth.models import ApiKey, Role
from app.auth.service import create_key, revoke_key, rotate_key
from app.cli import cli
from app.core.config import DEFAULT_SECRET_KEY, Settings
from app.core.db import PdiSession
from app.core.engines import get_engine
from app.core.errors import Conflict
from app.core.time import utcnow
from app.main import create_app

runner = CliRunner()

PUBLIC_ROUTES = [
    "/api/v1/families",
    "/api/v1/actions/depart-parcours",
    "/api/v1/availability",
    "/api/v1/reference/exit-reasons",
    "/api/v1/reference/indicators",
    "/healthz",
    "/readyz",
]


def _key_row(session: Session, role: Role = Role.reader, **fields) -> tuple[ApiKey, dict[str, str]]:
    row, key = create_key(session=session, role=role, name="credential test")
    for name, value in fields.items():
        setattr(row, name, value)
    session.add(row)
    session.commit()
    return row, {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("path", PUBLIC_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer pdi_unknown-key",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "Bearer ",
        "bearer two words",
        "pdi_a-key-without-its-scheme",
        "",
    ],
)
def test_a_bad_authorization_header_is_a_401_even_on_public_routes(client, path, authorization):
    response = client.get(path, headers={"Authorization": authorization})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", PUBLIC_ROUTES)
def test_public_routes_stay_open_without_a_header(client, path):
    assert client.get(path).status_code == 200


def test_revoked_and_expired_keys_are_refused_everywhere(client, session):
    revoked, revoked_headers = _key_row(session)
    revoke_key(session=session, key_id=revoked.id)
    _expired, expired_headers = _key_row(session, expires_at=utcnow() - timedelta(seconds=1))
    _alive, alive_headers = _key_row(session, expires_at=utcnow() + timedelta(days=1))
    session.commit()
    for path in ["/api/v1/conventions", "/api/v1/reference/exit-reasons", "/api/v1/families"]:
        assert client.get(path, headers=revoked_headers).status_code == 401
        assert client.get(path, headers=expired_headers).status_code == 401
        assert client.get(path, headers=alive_headers).status_code == 200


def test_a_key_notes_its_last_use_at_most_once_a_minute(client, session, monkeypatch):
    """The worker's key cache knows when it last noted a use (app/auth/key_cache.py): the next
    note comes once its clock has moved a minute on."""
    row, headers = _key_row(session)
    assert row.last_used_at is None

    def last_used():
        session.expire_all()
        return session.get(ApiKey, row.id).last_used_at

    client.get("/api/v1/conventions", headers=headers)
    first = last_used()
    assert first is not None and utcnow() - first < timedelta(seconds=30)
    client.get("/api/v1/families", headers=headers)
    client.post("/api/v1/families", json={}, headers=headers)  # a 403, still a use
    assert last_used() == first

    later = utcnow() + timedelta(minutes=2)
    monkeypatch.setattr(dependencies, "utcnow", lambda: later)
    client.get("/api/v1/families", headers=headers)
    assert last_used() > first + timedelta(minutes=1)


def test_rotation_gives_a_new_key_and_a_grace_period_to_the_old_one(client, session):
    old, old_headers = _key_row(session, role=Role.reader)
    old_row, new_row, new_key = rotate_key(session=session, key_id=old.id, grace_days=7)
    session.commit()
    assert (new_row.role, new_row.name, new_row.operator_id) == (old.role, old.name, old.operator_id)
    assert new_row.rotated_from_id == old.id
    assert timedelta(days=6, hours=23) < old_row.expires_at - utcnow() <= timedelta(days=7)
    new_headers = {"Authorization": f"Bearer {new_key}"}
    assert client.get("/api/v1/conventions", headers=old_headers).status_code == 200
    assert client.get("/api/v1/conventions", headers=new_headers).status_code == 200

    # No grace: the old key stops at once. A rotated-away key cannot be rotated again.
    _, newer_row, newest_key = rotate_key(session=session, key_id=new_row.id, grace_days=0)
    session.commit()
    assert client.get("/api/v1/conventions", headers=new_headers).status_code == 401
    assert client.get("/api/v1/conventions", headers={"Authorization": f"Bearer {newest_key}"}).status_code == 200
    with pytest.raises(Conflict):
        rotate_key(session=session, key_id=new_row.id)


# --- the command line (commits: the keys it made are deleted after each test) ---------------------


@pytest.fixture
def committed_keys(engine) -> Iterator[None]:
    with PdiSession(get_engine()) as session:
        before = set(session.exec(select(ApiKey.id)))
    yield
    with PdiSession(get_engine()) as session:
        session.exec(delete(ApiKey).where(ApiKey.id.not_in(before)))
        session.commit()


def _stored(key_id: int) -> ApiKey:
    with PdiSession(get_engine()) as session:
        return session.get(ApiKey, key_id)


def _listing_line(key_id: int) -> list[str]:
    listing = runner.invoke(cli, ["keys", "list"]).output.splitlines()
    assert listing[0].split("\t") == ["id", "role", "state", "expires", "last used", "prefix", "name"]
    return next(line.split("\t") for line in listing if line.split("\t")[0] == str(key_id))


def test_cli_keys_expire_rotate_and_list(committed_keys):
    created = runner.invoke(cli, ["keys", "create", "--role", "portal", "--name", "Portail", "--expires-in", "30"])
    assert created.exit_code == 0, created.output
    key_id = int(created.output.split()[2])
    stored = _stored(key_id)
    assert timedelta(days=29, hours=23) < stored.expires_at - utcnow() <= timedelta(days=30)
    line = _listing_line(key_id)
    assert line[2] == "active" and line[3] == stored.expires_at.strftime("%Y-%m-%d %H:%M UTC") and line[4] == "never"

    rotated = runner.invoke(cli, ["keys", "rotate", str(key_id), "--grace-days", "2"])
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.strip().splitlines()[-1]
    assert new_key.startswith("pdi_") and " " not in new_key
    assert timedelta(days=1, hours=23) < _stored(key_id).expires_at - utcnow() <= timedelta(days=2)
    with PdiSession(get_engine()) as session:
        new_row = session.exec(select(ApiKey).where(ApiKey.rotated_from_id == key_id)).one()
    assert (new_row.role, new_row.name, new_row.expires_at) == ("portal", "Portail", None)
    assert _listing_line(new_row.id)[3] == "never"

    default_grace = runner.invoke(cli, ["keys", "rotate", str(new_row.id)])
    assert default_grace.exit_code == 0, default_grace.output
    assert timedelta(days=6, hours=23) < _stored(new_row.id).expires_at - utcnow() <= timedelta(days=7)

    zero_grace = runner.invoke(cli, ["keys", "rotate", str(key_id), "--grace-days", "0"])
    assert zero_grace.exit_code == 0
    assert _listing_line(key_id)[2] == "expired"
    assert runner.invoke(cli, ["keys", "rotate", str(key_id)]).exit_code == 1  # expired: nothing to rotate
    assert runner.invoke(cli, ["keys", "rotate", "999999"]).exit_code == 1


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_cli_refuses_a_lifetime_that_is_not_a_positive_number_of_days(committed_keys, days):
    result = runner.invoke(cli, ["keys", "create", "--role", "reader", "--name", "X", "--expires-in", days])
    assert result.exit_code != 0


# --- the default secret stays on this machine ------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "pdi.example.fr"])
def test_no_serving_beyond_loopback_with_the_default_secret(host, monkeypatch):
    default = Settings(secret_key=DEFAULT_SECRET_KEY, env="development")
    with pytest.raises(RuntimeError, match="default PDI_SECRET_KEY"):
        create_app(default, host=host)
    create_app(Settings(secret_key="s" * 40, env="development"), host=host)

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("uvicorn was started"))
    monkeypatch.setenv("PDI_SECRET_KEY", DEFAULT_SECRET_KEY)
    from app.core.config import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(cli, ["serve", "--host", host])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "default PDI_SECRET_KEY" in result.output


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_may_use_the_default_secret(host, monkeypatch):
    create_app(Settings(secret_key=DEFAULT_SECRET_KEY), host=host)
    import uvicorn

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.update(kwargs))
    assert runner.invoke(cli, ["serve", "--host", host]).exit_code == 0
    assert started["host"] == host and started["server_header"] is False
