"""Alembic environment: the schema is app.models' metadata, the URL the app's settings."""

from logging.config import fileConfig

from alembic import context

from app.core.config import get_settings
from app.core.engines import make_engine
from app.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    # Tests and the CLI pass their URL in; otherwise the environment decides.
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    if connection.dialect.name == "sqlite" and not connection.in_transaction():
        _run_without_foreign_keys(connection)
        return
    _migrate(connection)


def _migrate(connection) -> None:
    # Batch mode lets the same migrations alter tables on SQLite, which has little ALTER TABLE.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_without_foreign_keys(connection) -> None:
    """SQLite's batch mode rebuilds a table (copy, drop, rename): with foreign keys enforced,
    dropping a table that other rows point to fails, even though the same rows come back under
    the same name. Off for the migration, as Alembic advises (the pragma works only outside a
    transaction, hence the driver's connection), then every reference is checked."""
    sqlite = connection.connection.driver_connection
    sqlite.execute("PRAGMA foreign_keys=OFF")
    try:
        _migrate(connection)
        broken = sqlite.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows pointing to nothing: {broken[:5]}")
    finally:
        sqlite.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
