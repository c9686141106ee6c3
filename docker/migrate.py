"""The entrypoint's migration: `alembic upgrade head`, once, however many replicas start at once.

On PostgreSQL the upgrade runs under a session-level advisory lock, held on a connection of its
own: the first replica to take it migrates, the others wait for it, then find the schema at
head and do nothing. The lock goes with its connection, so a replica that dies while migrating
releases it. Other databases (SQLite: one process on one file) migrate without a lock.

Run as `python docker/migrate.py` from anywhere: the project is the parent of this directory.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from app.core.config import get_settings  # noqa: E402
from app.core.engines import make_engine  # noqa: E402
from app.core.migrate import upgrade_head  # noqa: E402

# Any bigint will do, as long as every replica uses the same one and nothing else does.
MIGRATION_LOCK_ID = 7_206_105_920_000_012  # "PDI migrations"


def say(message: str) -> None:
    print(f"migrate: {message}", flush=True)


def migrate() -> None:
    database_url = get_settings().database_url  # refuses a production start without a secret
    if not database_url.startswith("postgresql"):
        upgrade_head(database_url)
        say("database schema is up to date")
        return

    engine = make_engine(database_url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            parameters = {"id": MIGRATION_LOCK_ID}
            if not lock.execute(text("SELECT pg_try_advisory_lock(:id)"), parameters).scalar_one():
                say("another replica is migrating; waiting for it")
                waited = time.monotonic()
                lock.execute(text("SELECT pg_advisory_lock(:id)"), parameters)
                say(f"lock taken after {time.monotonic() - waited:.1f} s")
            try:
                upgrade_head(database_url)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:id)"), parameters)
    finally:
        engine.dispose()
    say("database schema is up to date")


if __name__ == "__main__":
    migrate()
