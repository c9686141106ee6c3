"""The Docker packaging, checked without a container engine: docker-compose.yml and the Dockerfile
read as data, the image's file set rebuilt from the Dockerfile's COPY lines and .dockerignore,
docker/entrypoint.sh run for real (on SQLite, and serving the API on PostgreSQL, where its
migration lock is tested too) and `make env`. The image itself is built and run by
`make image-smoke` (docker/smoke.sh, run by .ci/run)."""

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy import create_engine, inspect, make_url, text

from app.core.config import PROJECT_ROOT, Settings
from app.core.migrate import alembic_config
from tests.servers import free_port

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
ENTRYPOINT = PROJECT_ROOT / "docker" / "entrypoint.sh"
MIGRATE_SCRIPT = PROJECT_ROOT / "docker" / "migrate.py"
DOCKER_SCRIPTS = [PROJECT_ROOT / "docker" / name for name in ("image-base.sh", "image.sh", "smoke.sh")]
VENV_BIN = Path(sys.executable).parent
READINESS_TIMEOUT_SECONDS = 30


# --- reading the files as Docker and Compose do -------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or not (stripped or pending):  # comments may sit inside a continuation
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def instruction(name: str) -> str:
    """The arguments of the last `name` instruction (the one Docker keeps for USER, CMD...)."""
    found = [arguments for keyword, arguments in dockerfile_instructions() if keyword == name]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def exec_form(arguments: str) -> list[str]:
    """The JSON (exec) form of CMD / ENTRYPOINT / HEALTHCHECK CMD: no shell in between."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list) and all(isinstance(part, str) for part in parsed)
    return parsed


def healthcheck_command() -> list[str]:
    _options, _, command = instruction("HEALTHCHECK").partition(" CMD ")
    return exec_form(command)


def interpolate(value: str, environment: dict[str, str]) -> str:
    """Compose's variable interpolation for ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}; any other use of `$` fails the test instead of passing unread."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match["name"], match["operator"], match["argument"]
        current = environment.get(name)
        if operator in (":-", ":?") and current == "":
            current = None
        if current is not None:
            return current
        if operator in (":-", "-"):
            return argument
        if operator in (":?", "?"):
            raise LookupError(f"{name}: {argument}")
        return ""

    pattern = r"\$\{(?P<name>\w+)(?:(?P<operator>:-|-|:\?|\?)(?P<argument>[^}]*))?\}"
    result = re.sub(pattern, substitute, value.replace("$$", "\0"))
    assert "$" not in result, f"unsupported interpolation in {value!r}"
    return result.replace("\0", "$")


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service_environment(service: dict) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):  # the `- NAME=value` form
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def compose_environment(service: str, host_environment: dict[str, str]) -> dict[str, str]:
    raw = service_environment(compose()["services"][service])
    return {name: interpolate(value, host_environment) for name, value in raw.items()}


def ignore_patterns() -> list[re.Pattern]:
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "exceptions (!) are not read by these tests"
        regex = re.escape(line.strip("/"))
        regex = (
            regex.replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        )
        patterns.append(re.compile(regex))
    return patterns


def is_ignored(relative: str, patterns: list[re.Pattern]) -> bool:
    """Docker excludes a path when a pattern matches it or one of its parent directories."""
    parts = Path(relative).parts
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    return any(pattern.fullmatch(prefix) for pattern in patterns for prefix in prefixes)


def build_image_tree(root: Path) -> Path:
    """Lay out under `root` what the Dockerfile's COPY instructions put in the image."""
    patterns = ignore_patterns()
    workdir = Path("/")
    for keyword, arguments in dockerfile_instructions():
        if keyword == "WORKDIR":
            workdir = workdir / arguments
        if keyword != "COPY":
            continue
        words = shlex.split(arguments)
        flags = [word for word in words if word.startswith("--")]
        *sources, destination = [word for word in words if not word.startswith("--")]
        mode = None
        for flag in flags:
            name, _, value = flag.partition("=")
            assert name == "--chmod", f"COPY {flag} is not simulated by this test"
            mode = int(value, 8)
        target = root / (workdir / destination).relative_to("/")
        for source in sources:
            assert not is_ignored(source, patterns), f"COPY {source}, but .dockerignore excludes it"
            copied = PROJECT_ROOT / source
            if copied.is_dir():
                for path in sorted(copied.rglob("*")):
                    relative = path.relative_to(PROJECT_ROOT).as_posix()
                    if path.is_file() and not is_ignored(relative, patterns):
                        placed = target / path.relative_to(copied)
                        placed.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, placed)
                continue
            placed = target / copied.name if destination.endswith("/") else target
            placed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(copied, placed)
            if mode is not None:
                placed.chmod(mode)
    return root / Path(exec_form(instruction("ENTRYPOINT"))[0]).relative_to("/")


def wait_until_ready(http: httpx.Client, url: str, server: subprocess.Popen, log: Path) -> httpx.Response:
    """Poll until `url` answers 200 (waiting for start-up, not measuring it)."""
    deadline = time.monotonic() + READINESS_TIMEOUT_SECONDS
    while True:
        assert server.poll() is None, f"the container's process exited:\n{log.read_text()}"
        try:
            response = http.get(url)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} not 200 after {READINESS_TIMEOUT_SECONDS}s:\n{log.read_text()}"
        time.sleep(0.2)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def stored_revision(database_url: str) -> str | None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def production_environment(database_url: str, **extra: str) -> dict[str, str]:
    """What the container gets: no test settings inherited from this process."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": database_url,
        "PDI_ENV": "production",
        "PDI_SECRET_KEY": secrets.token_urlsafe(30)[:40],
        **extra,
    }


# --- docker-compose.yml --------------------------------------------------------------------


def test_compose_runs_the_api_after_a_healthy_database():
    services = compose()["services"]
    assert {"db", "api"} <= services.keys()
    api, db = services["api"], services["db"]
    assert api["build"] in (".", {"context": "."})
    assert "ports" not in api, "the api is reached through the proxy only"
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert api["restart"] == "unless-stopped"
    assert "ports" not in db, "the database is reached by the api on the compose network only"


NGINX_CONF = PROJECT_ROOT / "docker" / "nginx.conf"


def nginx_directives() -> dict[str, list[str]]:
    """Each directive of docker/nginx.conf (comments dropped) and its arguments, the first one kept
    (the public server comes first; the internal one, for /metrics, after it)."""
    directives: dict[str, list[str]] = {}
    for line in NGINX_CONF.read_text().splitlines():
        statement = line.split("#", 1)[0].strip()
        if statement.endswith(";"):
            name, *arguments = statement[:-1].split()
            directives.setdefault(name, arguments)
    return directives


def _seconds(value: str) -> float:
    return float(value.removesuffix("s"))


def _bytes(value: str) -> int:
    units = {"k": 1024, "m": 1024 * 1024}
    return int(value[:-1]) * units[value[-1]] if value[-1] in units else int(value)


def test_compose_puts_nginx_in_front_of_the_api_as_the_only_published_port():
    services = compose()["services"]
    proxy = services["proxy"]
    assert re.fullmatch(r"nginx:1\.\d+(\.\d+)?-alpine", proxy["image"]), "the official image, pinned to a minor"
    assert [str(port) for port in proxy["ports"]] == ["8000:8080"]
    assert "./docker/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    assert "healthz" in " ".join(proxy["healthcheck"]["test"])
    # In production, that is without a profile: the `dev` profile's OpenID Provider publishes its
    # own port, on loopback only (tests/test_deployment.py).
    published = [name for name, service in services.items() if service.get("ports") and not service.get("profiles")]
    assert published == ["proxy"]
    # The api trusts the proxy's X-Forwarded-For: otherwise every client shares one rate limit.
    assert compose_environment("api", {"PDI_SECRET_KEY": "k" * 40})["FORWARDED_ALLOW_IPS"] == "*"


def test_nginx_enforces_the_limits_the_api_sets_itself():
    nginx = nginx_directives()
    settings = Settings(_env_file=None)
    assert nginx["listen"] == ["8080"]
    assert nginx["proxy_pass"] == ["http://api"] and "server" in nginx  # upstream api:8000
    assert "api:8000" in NGINX_CONF.read_text()
    assert nginx["server_tokens"] == ["off"]
    # Request heads: no bigger than uvicorn's own cap, no slower than its header timeout.
    count, size = nginx["large_client_header_buffers"]
    assert int(count) * _bytes(size) <= settings.max_header_bytes
    assert _bytes(nginx["client_header_buffer_size"][0]) <= _bytes(size)
    assert _seconds(nginx["client_header_timeout"][0]) <= settings.header_timeout_seconds
    # Bodies: room for the largest the API takes (an exit-record batch), no more.
    assert settings.max_batch_bytes <= _bytes(nginx["client_max_body_size"][0]) <= 4 * settings.max_batch_bytes
    assert _seconds(nginx["client_body_timeout"][0]) <= 30
    # The proxy waits for the slowest answer the API may give on purpose.
    assert _seconds(nginx["proxy_read_timeout"][0]) > settings.db_statement_timeout_admin_ms / 1000
    assert "limit_conn" in nginx and "limit_conn_zone" in nginx


def test_the_image_serves_with_h11_and_a_capped_request_head():
    command = exec_form(instruction("CMD"))
    assert command[command.index("--http") + 1] == "h11"  # httptools has no cap on headers
    cap = int(command[command.index("--h11-max-incomplete-event-size") + 1])
    assert cap == Settings(_env_file=None).max_header_bytes


def test_compose_services_have_healthchecks():
    services = compose()["services"]
    db_check = services["db"]["healthcheck"]["test"]
    assert db_check[0] == "CMD" and db_check[1] == "pg_isready"
    assert db_check[db_check.index("-U") + 1] == "pdi" and db_check[db_check.index("-d") + 1] == "pdi"
    api_check = services["api"]["healthcheck"]["test"]
    assert api_check[0] == "CMD" and "http://127.0.0.1:8000/readyz" in " ".join(api_check)


def test_compose_runs_the_webhook_worker_from_the_same_image_with_the_same_secret():
    services = compose()["services"]
    worker = services["worker"]
    assert worker["image"] == services["api"]["image"]
    assert worker["command"] == ["pdi", "worker"]
    assert worker["depends_on"]["api"]["condition"] == "service_healthy"
    environment = compose_environment("worker", {"PDI_SECRET_KEY": "k" * 40})
    assert environment["PDI_SECRET_KEY"] == "k" * 40  # it decrypts the secrets the API stored
    assert environment["DATABASE_URL"] == compose_environment("api", {"PDI_SECRET_KEY": "k" * 40})["DATABASE_URL"]
    assert environment["PDI_WEBHOOK_ALLOW_PRIVATE"] == "false"


def test_compose_keeps_the_database_in_a_declared_volume():
    document = compose()
    mounts = [str(volume).split(":") for volume in document["services"]["db"]["volumes"]]
    named = [source for source, target, *_ in mounts if target == "/var/lib/postgresql/data"]
    assert len(named) == 1 and not named[0].startswith((".", "/"))
    assert named[0] in document["volumes"]


def test_compose_requires_a_secret_key():
    raw = service_environment(compose()["services"]["api"])
    assert re.fullmatch(r"\$\{PDI_SECRET_KEY:\?[^}]+\}", raw["PDI_SECRET_KEY"])
    with pytest.raises(LookupError, match="PDI_SECRET_KEY"):
        compose_environment("api", {})
    with pytest.raises(LookupError, match="PDI_SECRET_KEY"):
        compose_environment("api", {"PDI_SECRET_KEY": ""})


def test_compose_api_reaches_the_db_service_with_its_credentials():
    for host_environment in ({}, {"POSTGRES_PASSWORD": "s3cretLocal"}):
        api = compose_environment("api", {"PDI_SECRET_KEY": "k" * 40, **host_environment})
        db = compose_environment("db", host_environment)
        url = make_url(api["DATABASE_URL"])
        assert url.drivername == "postgresql+psycopg"
        assert (url.host, url.port) == ("db", 5432)
        assert url.username == db["POSTGRES_USER"]
        assert url.password == db["POSTGRES_PASSWORD"]
        assert url.database == db["POSTGRES_DB"] == "pdi"
    assert make_url(api["DATABASE_URL"]).password == "s3cretLocal"


def test_compose_api_environment_makes_valid_production_settings(monkeypatch):
    secret = secrets.token_urlsafe(32)
    api = compose_environment("api", {"PDI_SECRET_KEY": secret})
    assert api["PDI_ENV"] == "production"
    for name in list(os.environ):
        if name.startswith("PDI_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in api.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.env == "production"
    assert settings.secret_key == secret
    assert settings.cors_origins == []
    assert make_url(settings.database_url).host == "db"

    origins = compose_environment(
        "api", {"PDI_SECRET_KEY": secret, "PDI_CORS_ORIGINS": '["https://portail.example.fr"]'}
    )
    monkeypatch.setenv("PDI_CORS_ORIGINS", origins["PDI_CORS_ORIGINS"])
    assert Settings(_env_file=None).cors_origins == ["https://portail.example.fr"]


def test_compose_runs_the_workers_and_reads_the_replica_it_is_given(monkeypatch):
    host = {"PDI_SECRET_KEY": "k" * 40}
    for name in list(os.environ):
        if name.startswith("PDI_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)

    def settings_of(api: dict[str, str]) -> Settings:
        for name, value in api.items():
            monkeypatch.setenv(name, value)
        return Settings(_env_file=None)

    default = compose_environment("api", host)
    assert default["WEB_CONCURRENCY"] == "2"  # uvicorn's variable for its --workers
    assert settings_of(default).read_database_url is None
    given = compose_environment(
        "api", host | {"PDI_WORKERS": "4", "PDI_READ_DATABASE_URL": "postgresql://pdi:s3cret@replica:5432/pdi"}
    )
    assert given["WEB_CONCURRENCY"] == "4"
    replica = make_url(settings_of(given).read_database_url)
    assert (replica.drivername, replica.host) == ("postgresql+psycopg", "replica")
    # The workers count the rate limits in one store, the compose file's Redis, once it is healthy.
    assert settings_of(default).rate_limit_storage == "redis://redis:6379"
    assert compose()["services"]["api"]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert "healthcheck" in compose()["services"]["redis"]


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines, as Compose reads a plain .env (no quotes, comments or blanks needed)."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert name not in pairs, f"{name} written twice"
            pairs[name] = value
    return pairs


def make_env(directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(PROJECT_ROOT / "Makefile"), "env"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_env_writes_the_compose_secrets_once(tmp_path, monkeypatch):
    first = make_env(tmp_path)
    assert first.returncode == 0, first.stderr
    env_file = tmp_path / ".env"
    written = read_env_file(env_file)
    assert written.keys() == {"PDI_SECRET_KEY", "POSTGRES_PASSWORD"}
    assert len(written["PDI_SECRET_KEY"]) >= 32
    assert re.fullmatch(r"[0-9a-f]{32}", written["POSTGRES_PASSWORD"])  # safe inside DATABASE_URL
    assert env_file.stat().st_mode & 0o077 == 0, "readable by its owner only"

    again = make_env(tmp_path)
    assert again.returncode == 0, again.stderr
    assert read_env_file(env_file) == written, "an existing value is never replaced"

    # What `docker compose up`, `exec` and `down` interpolate from that .env.
    api = compose_environment("api", written)
    db = compose_environment("db", written)
    assert api["PDI_SECRET_KEY"] == written["PDI_SECRET_KEY"]
    assert make_url(api["DATABASE_URL"]).password == db["POSTGRES_PASSWORD"] == written["POSTGRES_PASSWORD"]
    for name in list(os.environ):
        if name.startswith("PDI_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in api.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).secret_key == written["PDI_SECRET_KEY"]


def test_make_env_keeps_an_existing_secret_and_adds_what_is_missing(tmp_path):
    existing = secrets.token_urlsafe(32)
    (tmp_path / ".env").write_text(f"PDI_CORS_ORIGINS=[]\nPDI_SECRET_KEY={existing}\n")
    finished = make_env(tmp_path)
    assert finished.returncode == 0, finished.stderr
    written = read_env_file(tmp_path / ".env")
    assert written["PDI_SECRET_KEY"] == existing
    assert written["PDI_CORS_ORIGINS"] == "[]"
    assert re.fullmatch(r"[0-9a-f]{32}", written["POSTGRES_PASSWORD"])


# --- Dockerfile and .dockerignore ----------------------------------------------------------


def test_dockerfile_builds_on_pinned_python_311_slim_unless_told_otherwise():
    """FROM ${PYTHON_IMAGE}, declared before it with the official image as its default: a plain
    `docker build` is unchanged, `make image PYTHON_IMAGE=...` builds on the local stand-in."""
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    from_index = keywords.index("FROM")
    base_arguments = [arguments for keyword, arguments in instructions[:from_index] if keyword == "ARG"]
    assert base_arguments, "no ARG before FROM"
    name, _, default = base_arguments[-1].partition("=")
    assert name == "PYTHON_IMAGE"
    assert re.fullmatch(r"python:3\.11-slim-\w+", default), default
    assert instruction("FROM") in ("${PYTHON_IMAGE}", "$PYTHON_IMAGE")
    assert keywords.count("FROM") == 1


def test_dockerfile_runs_as_a_non_root_user():
    user = instruction("USER").split(":")[0]
    assert user not in ("", "root", "0")


def test_dockerfile_serves_the_app_on_8000_in_production():
    assert "8000" in instruction("EXPOSE").split()
    environment = " ".join(arguments for keyword, arguments in dockerfile_instructions() if keyword == "ENV")
    assert re.search(r"(^|\s)PDI_ENV=production(\s|$)", environment)
    command = exec_form(instruction("CMD"))
    assert command[:2] == ["uvicorn", "app.main:app"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8000"
    assert "--proxy-headers" in command


def test_dockerfile_checks_readiness_and_starts_through_the_entrypoint():
    assert "http://127.0.0.1:8000/readyz" in " ".join(healthcheck_command())
    assert exec_form(instruction("ENTRYPOINT")) == ["/srv/pdi/docker/entrypoint.sh"]
    workdir = instruction("WORKDIR")
    assert workdir == "/srv/pdi"
    # Installed editable: app/ stays beside alembic.ini, where app.core.config looks for it.
    installs = [
        arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN" and "pip install" in arguments
    ]
    assert any(re.search(r"pip install .*-e \.(\s|$)", command) for command in installs)


def test_dockerignore_keeps_local_secret_and_test_files_out():
    patterns = ignore_patterns()
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "var/pdi.db",
        ".env",
        "tests/test_docker.py",
        "bench/run.py",
        "app/__pycache__/main.cpython-311.pyc",
        "catalogue_pdi.egg-info/PKG-INFO",
        ".pytest_cache/README.md",
    ):
        assert is_ignored(path, patterns), path
    for path in (
        "pyproject.toml",
        "alembic.ini",
        "app/main.py",
        "app/core/config.py",
        "migrations/env.py",
        "seed/loader.py",
        "docker/entrypoint.sh",
    ):
        assert not is_ignored(path, patterns), path


# --- docker/entrypoint.sh ------------------------------------------------------------------


def test_entrypoint_is_an_executable_posix_script():
    script = ENTRYPOINT.read_text()
    assert os.access(ENTRYPOINT, os.X_OK)
    assert script.startswith("#!/bin/sh\n")
    assert re.search(r"^set -eu$", script, re.MULTILINE)
    assert re.search(r'^exec "\$@"$', script, re.MULTILINE)
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed_on_start", ["false", "true"])
def test_image_files_migrate_the_database_then_run_the_command(tmp_path, seed_on_start):
    """The files the Dockerfile copies are enough: the entrypoint migrates from them (through
    `python -m app.cli`, as no `pdi` is on this PATH), seeds when asked, then runs the command."""
    if seed_on_start == "true":
        pytest.importorskip("seed.loader", reason="the seed loader is not written yet")
    entrypoint = build_image_tree(tmp_path / "image")
    assert os.access(entrypoint, os.X_OK)
    project_root = entrypoint.parent.parent
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    database_url = f"sqlite:///{tmp_path / 'image.db'}"
    environment = production_environment(database_url, PATH=f"{bin_dir}:/usr/bin:/bin", PDI_SEED_ON_START=seed_on_start)

    finished = subprocess.run(
        [str(entrypoint), "python", "-c", "import app.core.config as config; print(config.PROJECT_ROOT)"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == str(project_root)
    assert stored_revision(database_url) == head_revision()
    engine = create_engine(database_url)
    with engine.connect() as connection:
        families = connection.execute(text("SELECT count(*) FROM family")).scalar_one()
    engine.dispose()
    assert (families > 0) == (seed_on_start == "true")


def test_docker_scripts_are_executable_bash_that_parses():
    for script in DOCKER_SCRIPTS:
        assert os.access(script, os.X_OK), script
        source = script.read_text()
        assert source.startswith("#!/usr/bin/env bash\n"), script
        assert re.search(r"^set -euo pipefail$", source, re.MULTILINE), script
        assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0, script
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^(\S+=\S+ )*timeout 600 make image-smoke$", ci, re.MULTILINE)
    assert ci.index("make test") < ci.index("make image-smoke")


def test_image_copies_what_the_entrypoint_runs(tmp_path):
    entrypoint = build_image_tree(tmp_path / "image")
    assert (entrypoint.parent / "migrate.py").read_text() == MIGRATE_SCRIPT.read_text()
    assert not (entrypoint.parent / "smoke.sh").exists(), "the build scripts stay out of the image"


@pytest.mark.slow
def test_entrypoint_refuses_production_without_a_secret_key(tmp_path):
    database_path = tmp_path / "refused.db"
    environment = production_environment(f"sqlite:///{database_path}", PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    del environment["PDI_SECRET_KEY"]

    finished = subprocess.run(
        ["sh", str(ENTRYPOINT), "python", "-c", "print('command ran')"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode != 0
    assert "PDI_SECRET_KEY" in finished.stdout + finished.stderr
    assert "command ran" not in finished.stdout
    assert not database_path.exists() or stored_revision(f"sqlite:///{database_path}") is None


@pytest.mark.parametrize("secret_key", [None, "too-short-for-production"])
def test_production_settings_refuse_a_default_or_short_secret(monkeypatch, secret_key):
    monkeypatch.delenv("PDI_SECRET_KEY", raising=False)
    arguments = {"env": "production"} | ({"secret_key": secret_key} if secret_key else {})
    with pytest.raises(ValidationError, match="PDI_SECRET_KEY"):
        Settings(_env_file=None, **arguments)
    assert Settings(_env_file=None, env="production", secret_key=secrets.token_urlsafe(32)).env == "production"


@pytest.fixture
def scratch_postgres_url():
    """A database of its own on the test server, dropped at the end."""
    server_url = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"pdi_entrypoint_{secrets.token_hex(6)}"
    admin = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
@pytest.mark.postgres_only
def test_entrypoint_migrates_postgresql_and_serves_the_api(tmp_path, scratch_postgres_url):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    healthchecks = [
        [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in command]
        for command in (healthcheck_command(), compose()["services"]["api"]["healthcheck"]["test"][1:])
    ]
    environment = production_environment(scratch_postgres_url, PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    log = tmp_path / "server.log"
    http = httpx.Client(timeout=5, trust_env=False)  # straight to 127.0.0.1, whatever proxy is set
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                "sh",
                str(ENTRYPOINT),
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=environment,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ready = wait_until_ready(http, f"{base}/readyz", server, log)

        assert ready.json() == {"status": "ok"}
        families = http.get(f"{base}/api/v1/families")
        assert families.status_code == 200, families.text
        assert {"items", "total", "page", "size"} <= families.json().keys()
        assert stored_revision(scratch_postgres_url) == head_revision()
        for command in healthchecks:
            assert subprocess.run(command, env=environment, capture_output=True, timeout=30).returncode == 0, command

        # The entrypoint exec'd the server: the stop signal reaches it and it stops serving.
        server.terminate()
        server.wait(timeout=15)
        with pytest.raises(httpx.TransportError):
            http.get(f"{base}/healthz")
        for command in healthchecks:
            assert subprocess.run(command, env=environment, capture_output=True, timeout=30).returncode != 0, command
    finally:
        try:
            os.killpg(server.pid, signal.SIGKILL)  # the whole session we started, if anything is left
        except ProcessLookupError:
            pass
        server.wait(timeout=15)
        http.close()


def run_migration(database_url: str, **extra: str) -> subprocess.Popen:
    """The entrypoint's migration step alone (the command after it is `true`)."""
    environment = production_environment(database_url, PATH=f"{VENV_BIN}:{os.environ['PATH']}", **extra)
    return subprocess.Popen(
        ["sh", str(ENTRYPOINT), "true"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def migration_lock_id() -> int:
    found = re.search(r"^MIGRATION_LOCK_ID = ([\d_]+)", MIGRATE_SCRIPT.read_text(), re.MULTILINE)
    assert found, "docker/migrate.py names no MIGRATION_LOCK_ID"
    return int(found[1])


@pytest.mark.slow
@pytest.mark.postgres_only
def test_entrypoint_migrates_under_an_advisory_lock(scratch_postgres_url):
    """While another replica holds the migration lock, the entrypoint waits, and migrates after."""
    holder = create_engine(scratch_postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with holder.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": migration_lock_id()})
            migration = run_migration(scratch_postgres_url)
            try:
                with pytest.raises(subprocess.TimeoutExpired):
                    migration.wait(timeout=3)
                assert stored_revision(scratch_postgres_url) is None, "migrated without the lock"
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": migration_lock_id()})
            output, _ = migration.communicate(timeout=120)
    finally:
        holder.dispose()
    assert migration.returncode == 0, output
    assert "waiting" in output
    assert stored_revision(scratch_postgres_url) == head_revision()


@pytest.mark.postgres_only
def test_replicas_starting_at_once_all_start_on_a_migrated_database(scratch_postgres_url):
    replicas = [run_migration(scratch_postgres_url) for _ in range(3)]
    outputs = [replica.communicate(timeout=180)[0] for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
    assert stored_revision(scratch_postgres_url) == head_revision()
