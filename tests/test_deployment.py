"""The deployment a département's IT runs (SPEC C14), read as data: `.env.example` lists every
setting with its default, Compose hands `.env` to the api and the worker (checked by Compose
itself, `docker-compose config`, where it is installed, and by reading the file as Compose does),
the proxy publishes /metrics on the internal network only, the docs follow PDI_DOCS, the `dev`
profile runs the tests' OpenID Provider with the api pointed at it, and the backup service dumps
the database with PostgreSQL's own tools. The backups themselves are
restored for real by tests/test_restore_drill.py."""

import json
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from stdnum.fr import siret as stdnum_siret

from app.core.config import PROJECT_ROOT, Settings
from tests.servers import free_port, wait_until_serving
from tests.test_docker import COMPOSE_FILE, compose, compose_environment, service_environment

ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
SIGN_IN_GUIDE = PROJECT_ROOT / "docs" / "SIGN-IN.md"
# The `dev` profile's OpenID Provider: its build context, relative to the project.
DEV_PROVIDER_CONTEXT = Path("tests") / "people" / "provider"
DEV_PROVIDER_DIR = PROJECT_ROOT / DEV_PROVIDER_CONTEXT
NGINX_CONF = PROJECT_ROOT / "docker" / "nginx.conf"
BACKUP_SCRIPT = PROJECT_ROOT / "docker" / "backup.sh"
ENTRYPOINT = PROJECT_ROOT / "docker" / "entrypoint.sh"
# Lines whose value is not the setting's default: a path of this machine, a secret to generate, or
# one derived from another setting (PDI_SOURCE: cd + the département's code).
NOT_A_DEFAULT = {"DATABASE_URL", "PDI_VAR_DIR", "PDI_SECRET_KEY", "PDI_SOURCE"}
A_SECRET = "s" * 40


def environment_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"PDI_{field.upper()}"


SETTINGS = {environment_name(field): field for field in Settings.model_fields}


def example_lines() -> dict[str, tuple[str, bool]]:
    """Each variable of .env.example: (its value, whether the line is commented out)."""
    found = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)", line.strip())
        if match:
            assert match["name"] not in found, f"{match['name']} twice in .env.example"
            found[match["name"]] = (match["value"], match["comment"] is not None)
    return found


def test_env_example_lists_every_setting():
    missing = sorted(set(SETTINGS) - set(example_lines()))
    assert missing == [], f"add these settings to .env.example, with their default and meaning: {missing}"


def test_env_example_shows_each_setting_with_its_default(monkeypatch):
    for name, (value, commented) in example_lines().items():
        # Copied as .env, the file changes nothing until a line is uncommented.
        assert commented, f"{name} is set in .env.example"
        if name not in SETTINGS or name in NOT_A_DEFAULT:
            continue
        field = SETTINGS[name]
        monkeypatch.setenv(name, value)
        parsed = getattr(Settings(_env_file=None, PDI_SECRET_KEY=A_SECRET), field)
        assert parsed == Settings.model_fields[field].default, f"{name}={value} is not the default"
        monkeypatch.delenv(name)


def test_every_variable_of_env_example_is_read_by_someone():
    read_by_compose = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    read_by_entrypoint = set(re.findall(r"\$\{(\w+)", ENTRYPOINT.read_text()))
    unread = set(example_lines()) - set(SETTINGS) - read_by_compose - read_by_entrypoint
    assert unread == set()


def dotenv_for_compose() -> dict[str, str]:
    """A .env setting every variable of .env.example to its example value (and a secret)."""
    values = {name: value for name, (value, _commented) in example_lines().items()}
    return {**values, "PDI_SECRET_KEY": A_SECRET, "POSTGRES_PASSWORD": "drillpassword"}


def test_compose_hands_env_to_the_api_and_the_worker():
    """Read as Compose reads it: `env_file` first, `environment:` over it."""
    dotenv = dotenv_for_compose()
    for service in ("api", "worker"):
        definition = compose()["services"][service]
        assert definition.get("env_file") in (".env", [".env"]), f"{service} reads .env whole"
        explicit = compose_environment(service, dotenv)
        effective = {**dotenv, **explicit}
        for name in SETTINGS:
            assert name in effective, f"{name} does not reach {service}"
        # What the file sets on purpose: its own database, production, Redis for the api.
        assert explicit["DATABASE_URL"] == "postgresql+psycopg://pdi:drillpassword@db:5432/pdi"
        assert explicit["PDI_ENV"] == "production"
        assert explicit["PDI_SECRET_KEY"] == A_SECRET
    assert "build" in compose()["services"]["worker"], "the worker is built from the repository"
    assert compose()["services"]["worker"]["image"] == compose()["services"]["api"]["image"]


def docker_compose_config(directory: Path, *, profiles: tuple[str, ...] = ()) -> dict:
    result = subprocess.run(
        [
            "docker-compose",
            "--project-directory",
            str(directory),
            "-f",
            str(directory / "docker-compose.yml"),
            *[argument for profile in profiles for argument in ("--profile", profile)],
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={name: value for name, value in os.environ.items() if not name.startswith(("PDI_", "POSTGRES_"))},
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def project_copy(directory: Path, dotenv: dict[str, str]) -> None:
    """What Compose reads of the repository: the file, the build context it checks exists (the
    development OpenID Provider's, without its node_modules) and a .env."""
    shutil.copy(COMPOSE_FILE, directory / "docker-compose.yml")
    shutil.copytree(DEV_PROVIDER_DIR, directory / DEV_PROVIDER_CONTEXT, ignore=shutil.ignore_patterns("node_modules"))
    (directory / ".env").write_text("".join(f"{name}={value}\n" for name, value in dotenv.items()))


def dev_oidc_settings() -> dict[str, str]:
    """The PDI_OIDC_* lines docker-compose.yml's comment on the `dev` profile asks for in .env."""
    found = dict(re.findall(r"^\s*#\s+(PDI_OIDC_\w+)=(\S+)$", COMPOSE_FILE.read_text(), re.MULTILINE))
    assert found.keys() == {"PDI_OIDC_ISSUER", "PDI_OIDC_AUDIENCE", "PDI_OIDC_DOCS_CLIENT_ID"}
    return found


needs_docker_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None and os.environ.get("CI") != "true",
    reason="docker-compose is not installed (.ci/run installs Debian's)",
)


@pytest.mark.slow
@needs_docker_compose
def test_compose_itself_passes_every_setting_of_env(tmp_path):
    dotenv = dotenv_for_compose()
    project_copy(tmp_path, dotenv)
    services = docker_compose_config(tmp_path)["services"]
    for service in ("api", "worker"):
        environment = {
            name: "" if value is None else str(value) for name, value in services[service]["environment"].items()
        }
        explicit = service_environment(compose()["services"][service])
        for name in SETTINGS:
            assert name in environment, f"{name} does not reach {service}"
            if name not in explicit:
                assert environment[name] == dotenv[name], name
        assert environment["DATABASE_URL"] == "postgresql+psycopg://pdi:drillpassword@db:5432/pdi"
    assert "build" in services["worker"]
    backup = services["backup"]["environment"]
    assert backup["PGPASSWORD"] == "drillpassword" and backup["PGHOST"] == "db"


def test_the_dev_profile_is_documented_alike_in_compose_and_the_sign_in_guide():
    guide = SIGN_IN_GUIDE.read_text()
    for name, value in dev_oidc_settings().items():
        assert f"{name}={value}\n" in guide, f"docs/SIGN-IN.md shows {name}={value} as docker-compose.yml does"


def published_port(entry: str | dict) -> tuple[str, int]:
    """(host address, port) of a `ports:` entry as `docker-compose config` writes it: the short
    form `[address:]published:target[/protocol]` or the long one."""
    if isinstance(entry, dict):
        return entry.get("host_ip", ""), int(entry["published"])
    address, _, published = entry.split("/")[0].rsplit(":", 1)[0].rpartition(":")
    return address, int(published)


@pytest.mark.slow
@needs_docker_compose
def test_compose_dev_profile_runs_the_tests_provider_and_points_the_api_at_it(tmp_path):
    """`--profile dev`: the OpenID Provider of the tests (tests/people/provider) built from the
    repository, on loopback, under one issuer URL that the browser and the api both reach; with
    the .env lines the file documents, the api trusts it and /docs signs in with its client."""
    dotenv = {**dotenv_for_compose(), **dev_oidc_settings()}
    project_copy(tmp_path, dotenv)
    services = docker_compose_config(tmp_path, profiles=("dev",))["services"]
    oidc = services["oidc"]
    assert oidc["profiles"] == ["dev"]
    # Nothing of production waits for it or runs under a profile.
    assert [name for name, service in services.items() if service.get("profiles")] == ["oidc"]
    assert all("oidc" not in service.get("depends_on", {}) for service in services.values())

    context = Path(oidc["build"]["context"])
    assert context == tmp_path / DEV_PROVIDER_CONTEXT
    dockerfile = (context / "Dockerfile").read_text()
    assert 'CMD ["node", "provider.js"]' in dockerfile and "npm ci" in dockerfile
    assert "node_modules" in (context / ".dockerignore").read_text().split()

    provider = {name: str(value) for name, value in oidc["environment"].items()}
    api = {name: "" if value is None else str(value) for name, value in services["api"]["environment"].items()}
    assert api["PDI_OIDC_ISSUER"] == provider["ISSUER"]
    assert api["PDI_OIDC_AUDIENCE"] == provider["AUDIENCE"]
    assert api["PDI_OIDC_DOCS_CLIENT_ID"] == "pdi-docs"  # the public client of provider.js
    Settings(_env_file=None, **{SETTINGS[name]: api[name] for name in dev_oidc_settings()})

    # One URL for both: a browser takes *.localhost for this machine, where the port is published
    # (loopback only); the api resolves the same name to the container by its network alias.
    issuer = urlsplit(provider["ISSUER"])
    assert issuer.hostname.endswith(".localhost")
    assert issuer.hostname in oidc["networks"]["default"]["aliases"]
    (published,) = oidc["ports"]
    assert published_port(published) == ("127.0.0.1", issuer.port)
    # /docs as a browser on this machine opens it: through the proxy's published port.
    (proxy,) = services["proxy"]["ports"]
    assert provider["DOCS_REDIRECT_URI"] == f"http://localhost:{published_port(proxy)[1]}/docs/oauth2-redirect"

    accounts = json.loads(provider["ACCOUNTS"])
    assert any(account.get("email") == "agent@departement.example" for account in accounts.values())
    sirets = [account["siret"] for account in accounts.values() if "siret" in account]
    assert sirets and all(stdnum_siret.is_valid(siret) for siret in sirets)


# --- the proxy ------------------------------------------------------------------------------


def nginx_servers() -> dict[str, str]:
    """Each `server { … }` block of docker/nginx.conf by the port it listens on (comments dropped)."""
    source = "\n".join(line.split("#", 1)[0] for line in NGINX_CONF.read_text().splitlines())
    servers = {}
    for start in [match.end() for match in re.finditer(r"\bserver\s*\{", source)]:
        depth, end = 1, start
        while depth:
            depth += {"{": 1, "}": -1}.get(source[end], 0)
            end += 1
        block = source[start : end - 1]
        (port,) = re.findall(r"\blisten\s+(\d+)\s*;", block)
        servers[port] = block
    return servers


def locations(block: str) -> dict[str, str]:
    return {
        match["where"].strip(): match["body"]
        for match in re.finditer(r"location\s+(?P<where>[^{]+)\{(?P<body>[^}]*)\}", block)
    }


def test_the_proxy_publishes_metrics_on_the_internal_network_only():
    proxy = compose()["services"]["proxy"]
    published = [str(port).rsplit(":", 1)[-1] for port in proxy["ports"]]
    servers = nginx_servers()
    assert published == ["8080"] and set(servers) == {"8080", "8081"}
    public, internal = locations(servers["8080"]), locations(servers["8081"])
    assert re.search(r"return\s+404\s*;", public["= /metrics"]), "the public server answers 404 for /metrics"
    assert "proxy_pass http://api;" in public["/"]
    assert "proxy_pass http://api;" in internal["= /metrics"]
    assert re.search(r"return\s+404\s*;", internal["/"]), "the internal server serves /metrics only"
    assert [str(port) for port in proxy["expose"]] == ["8081"]


@pytest.mark.parametrize("docs", [True, False])
def test_the_docs_follow_their_setting(docs):
    from app.main import create_app

    settings = Settings(_env_file=None, docs=docs, availability_cache=False)
    with TestClient(create_app(settings)) as client:
        for path in ("/docs", "/redoc"):
            assert client.get(path).status_code == (200 if docs else 404), path
        assert client.get("/openapi.json").status_code == 200  # what client teams generate from


# --- backups --------------------------------------------------------------------------------


def test_compose_backs_the_database_up_with_its_own_pg_dump_into_a_volume_of_its_own():
    document = compose()
    backup, db = document["services"]["backup"], document["services"]["db"]
    # pg_dump of the server's own major version: the same image.
    assert backup["image"] == db["image"]
    assert backup["entrypoint"] == ["/bin/sh", "/usr/local/bin/pdi-backup"]
    assert "./docker/backup.sh:/usr/local/bin/pdi-backup:ro" in backup["volumes"]
    assert "./docker/restore.sh:/usr/local/bin/pdi-restore:ro" in backup["volumes"]
    environment = compose_environment("backup", {"POSTGRES_PASSWORD": "p4ss", "PDI_BACKUP_KEEP": "7"})
    assert environment["PGPASSWORD"] == "p4ss" and environment["PGHOST"] == "db"
    assert environment["BACKUP_KEEP"] == "7" and int(environment["BACKUP_EVERY_SECONDS"]) > 0
    volume = f"pdi-backups:{environment['BACKUP_DIR']}"
    assert volume in backup["volumes"] and "pdi-backups" in document["volumes"]
    assert "pdi-db" not in " ".join(backup["volumes"]), "the dumps live apart from the database's files"
    assert backup["depends_on"]["db"] == {"condition": "service_healthy"}
    assert "pg_dump -Fc" in BACKUP_SCRIPT.read_text()


def test_the_backup_script_is_posix_sh_and_refuses_a_bad_retention(tmp_path):
    assert subprocess.run(["sh", "-n", str(BACKUP_SCRIPT)]).returncode == 0
    result = subprocess.run(
        ["sh", str(BACKUP_SCRIPT)],
        env={**os.environ, "BACKUP_DIR": str(tmp_path), "BACKUP_KEEP": "0"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "BACKUP_KEEP" in result.stderr
    assert list(tmp_path.iterdir()) == []


class _FakeApi(BaseHTTPRequestHandler):
    """Stands for the API behind nginx: answers 200 with the path it was asked, and notes it."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append(self.path)
        body = f"api:{self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def _replaced_once(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, f"docker/nginx.conf should hold {old!r} once"
    return source.replace(old, new)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("nginx") is None and os.environ.get("CI") != "true",
    reason="nginx is not installed (.ci/run installs Debian's)",
)
def test_nginx_serves_metrics_on_its_internal_port_only(tmp_path):
    """docker/nginx.conf run by nginx itself, its upstream and ports moved to loopback."""
    api = ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    public, internal = free_port(), free_port()
    conf = NGINX_CONF.read_text()
    conf = _replaced_once(conf, "server api:8000;", f"server 127.0.0.1:{api.server_address[1]};")
    conf = _replaced_once(conf, "listen 8080;", f"listen 127.0.0.1:{public};")
    conf = _replaced_once(conf, "listen 8081;", f"listen 127.0.0.1:{internal};")
    conf = _replaced_once(conf, "pid /tmp/nginx.pid;", f"pid {tmp_path / 'nginx.pid'};")
    (tmp_path / "nginx.conf").write_text(conf)
    (tmp_path / "logs").mkdir()
    log = tmp_path / "nginx.log"
    with log.open("w") as output:
        nginx = subprocess.Popen(
            ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(nginx, public, log)
        _FakeApi.seen.clear()
        with httpx.Client(timeout=5, trust_env=False) as http:
            assert http.get(f"http://127.0.0.1:{public}/metrics").status_code == 404
            assert http.get(f"http://127.0.0.1:{public}/api/v1/actions").text == "api:/api/v1/actions"
            assert http.get(f"http://127.0.0.1:{public}/docs").text == "api:/docs"  # the API decides (PDI_DOCS)
            assert http.get(f"http://127.0.0.1:{internal}/metrics").text == "api:/metrics"
            assert http.get(f"http://127.0.0.1:{internal}/api/v1/actions").status_code == 404
        assert _FakeApi.seen == ["/api/v1/actions", "/docs", "/metrics"]
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
        api.shutdown()
