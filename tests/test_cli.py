"""`pdi` commands, run as a user would, against the test database (they commit, so each test
removes the keys it created)."""

import os
import signal
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from sqlmodel import delete, select
from typer.testing import CliRunner

from app.auth.models import ApiKey
from app.auth.service import lookup_key
from app.cli import cli, local_admin_key_file
from app.core.config import PROJECT_ROOT, get_settings
from app.core.db import PdiSession
from app.core.engines import get_engine
from app.core.security import hash_api_key
from tests.servers import free_port
from tests.test_docker import VENV_BIN, wait_until_ready

runner = CliRunner()


@pytest.fixture
def committed_keys(engine) -> Iterator[None]:
    """Deletes, after the test, the keys the CLI committed during it."""
    with PdiSession(get_engine()) as session:
        before = set(session.exec(select(ApiKey.id)))
    yield
    with PdiSession(get_engine()) as session:
        session.exec(delete(ApiKey).where(ApiKey.id.not_in(before)))
        session.commit()


def caller_of(key: str):
    with PdiSession(get_engine()) as session:
        found = lookup_key(session=session, key_hash=hash_api_key(key))
        return found[0] if found is not None else None


def test_keys_create_prints_the_key_alone_on_the_last_line(committed_keys):
    result = runner.invoke(cli, ["keys", "create", "--role", "reader", "--name", "Open data"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    caller = caller_of(key)
    assert caller is not None and caller.role == "reader" and caller.name == "Open data"
    with PdiSession(get_engine()) as session:
        stored = session.get(ApiKey, caller.key_id)
        assert stored.key_hash != key and key not in stored.prefix + stored.key_hash


def test_keys_revoke_makes_the_key_useless(committed_keys):
    key = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "Temp"]).output.strip().splitlines()[-1]
    key_id = caller_of(key).key_id
    result = runner.invoke(cli, ["keys", "revoke", str(key_id)])
    assert result.exit_code == 0, result.output
    assert caller_of(key) is None


def test_keys_list_never_shows_the_key(committed_keys):
    key = runner.invoke(cli, ["keys", "create", "--role", "reader", "--name", "Listed"]).output.strip().splitlines()[-1]
    listing = runner.invoke(cli, ["keys", "list"]).output
    assert "Listed" in listing and key not in listing


@pytest.mark.parametrize(
    "arguments",
    [
        ["--role", "operator", "--name", "No operator"],  # an operator key needs --operator-id
        ["--role", "reader", "--operator-id", "1", "--name", "Bound reader"],  # only operators are bound
        ["--role", "operator", "--operator-id", "999999", "--name", "Ghost"],  # the operator must exist
        ["--role", "superuser", "--name", "Bad role"],
    ],
)
def test_keys_create_refuses_bad_arguments(committed_keys, arguments):
    with PdiSession(get_engine()) as session:
        count = len(session.exec(select(ApiKey.id)).all())
    result = runner.invoke(cli, ["keys", "create", *arguments])
    assert result.exit_code != 0
    with PdiSession(get_engine()) as session:
        assert len(session.exec(select(ApiKey.id)).all()) == count


def test_keys_revoke_of_an_unknown_key_fails():
    result = runner.invoke(cli, ["keys", "revoke", "999999"])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_bootstrap_creates_one_local_admin_key_and_keeps_it(committed_keys):
    key_file = local_admin_key_file()
    key_file.unlink(missing_ok=True)
    first = runner.invoke(cli, ["bootstrap", "--no-demo"])
    assert first.exit_code == 0, first.output
    key = first.output.strip().splitlines()[-1]
    assert caller_of(key).role == "admin"
    assert key_file.read_text().split()[1] == key

    second = runner.invoke(cli, ["bootstrap", "--no-demo"])
    assert second.exit_code == 0, second.output
    assert second.output.strip().splitlines()[-1] == key  # the same key, not a new one each start
    key_file.unlink()


def test_version_comes_from_the_package_metadata():
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"pdi {metadata.version('catalogue-pdi')}"


@pytest.fixture(params=["closed port", "sqlite file that cannot be created"])
def unreachable_database(request, monkeypatch, tmp_path) -> Iterator[str]:
    """DATABASE_URL naming a database nobody can use: a PostgreSQL port where nothing listens on
    127.0.0.1, or a SQLite file under a path that is a file, not a directory (root cannot create it
    either, unlike a directory without write permission)."""
    if request.param == "closed port":
        url = f"postgresql+psycopg://pdi:not-shown@127.0.0.1:{free_port()}/pdi"  # nothing listens there
    else:
        not_a_directory = tmp_path / "a-file"
        not_a_directory.write_text("")
        url = f"sqlite:///{not_a_directory / 'pdi.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield url
    monkeypatch.undo()
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["seed"],
        ["demo"],
        ["bootstrap", "--no-demo"],
        ["keys", "list"],
        ["keys", "revoke", "1"],
        ["keys", "create", "--role", "reader", "--name", "Nobody"],
    ],
    ids=" ".join,
)
def test_an_unreachable_database_is_one_line_and_exit_1(unreachable_database, command):
    result = runner.invoke(cli, command)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot use the database ")
    assert "not-shown" not in line  # the password is masked
    assert "Traceback" not in result.output


def test_make_run_passes_port_to_pdi_serve():
    def run_commands(*arguments: str) -> list[str]:
        dry_run = subprocess.run(
            ["make", "-n", "run", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
        return [line for line in dry_run.stdout.splitlines() if "pdi " in line]

    assert run_commands("PORT=8123")[-2:] == [".venv/bin/pdi bootstrap --port 8123", ".venv/bin/pdi serve --port 8123"]
    assert run_commands()[-1] == ".venv/bin/pdi serve --port 8000"


def worker_processes(pid: int) -> list[int]:
    """The worker processes uvicorn spawned under `pid` (not multiprocessing's resource tracker)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return [child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc (Linux)")
def test_serve_runs_as_many_workers_as_asked(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(VENV_BIN / "pdi"), "serve", "--port", str(port), "--workers", "2"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with httpx.Client(timeout=5, trust_env=False) as http:
            wait_until_ready(http, f"http://127.0.0.1:{port}/healthz", server, log)
        assert len(worker_processes(server.pid)) == 2, log.read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_serve_refuses_reload_with_several_workers():
    result = runner.invoke(cli, ["serve", "--reload", "--workers", "2"])
    assert result.exit_code == 2
    assert "--reload" in result.output
