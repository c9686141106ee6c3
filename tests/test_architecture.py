"""What docs/ARCHITECTURE.md says the code does, held here where a grep can check it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A session opened from SQLAlchemy's or SQLModel's class directly, not the project's.
PLAIN_SESSION = re.compile(r"(?<![A-Za-z_])Session\((?!\))")


def test_every_session_is_the_projects():
    """The change feed's capture listens to PdiSession only: a plain Session would write unseen."""
    offenders = []
    for folder in ("app", "seed", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if PLAIN_SESSION.search(line) and "class PdiSession(Session)" not in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "open sessions with app.core.db.PdiSession:\n" + "\n".join(offenders)


def test_migration_files_sort_in_chain_order():
    """A reader listing migrations/versions reads the chain from base to head."""
    from alembic.script import ScriptDirectory

    from app.core.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    chain = [Path(script.path).name for script in reversed(list(scripts.walk_revisions()))]
    assert chain == sorted(chain)


def test_every_domain_has_its_place_in_the_enforced_order():
    """import-linter checks only the layers it is given: a domain left out would go unchecked. A
    domain may take two layers by its sub-packages (ESF+'s records below the pathways, its
    reporting above the indicators): then each of its modules must sit in one of them."""
    import tomllib

    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    layered = {name for layer in contract["layers"] for name in layer.replace(" ", "").split("|")}

    def placed(package: Path, name: str) -> bool:
        if name in layered:
            return True
        modules = [path for path in package.glob("*.py") if path.name != "__init__.py"]
        subpackages = [path.parent for path in package.glob("*/__init__.py")]
        return bool(subpackages) and not modules and all(placed(sub, f"{name}.{sub.name}") for sub in subpackages)

    domains = {f"app.{path.parent.name}": path.parent for path in (ROOT / "app").glob("*/__init__.py")}
    assert sorted(name for name, package in domains.items() if not placed(package, name)) == []
