"""`pdi check` (SPEC C14): a database that holds together passes; each kind of damage, made on
purpose in a database of its own, exits 1 and names what differs; PostgreSQL's tables never
analysed are a warning."""

from collections.abc import Iterator
from datetime import date

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine, make_url
from typer.testing import CliRunner

import app.cli
from app.cli import cli
from app.conventions.models import Convention
from app.core.db import PdiSession
from app.core.engines import make_engine
from app.core.migrate import alembic_config, upgrade_head
from app.outbox.models import Change
from seed.loader import load_catalogue
from tests import factories
from tests.conftest import IS_POSTGRES, TEST_DATABASE_URL
from tests.scratch import scratch_database

pytestmark = pytest.mark.slow

runner = CliRunner()


def scratch_prefix(purpose: str) -> str:
    """Scratch databases named after the run's own (PostgreSQL), so that they are told apart."""
    return f"{make_url(TEST_DATABASE_URL).database}_{purpose}" if IS_POSTGRES else purpose


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> Iterator[tuple[Engine, list[int]]]:
    """A database at head with the catalogue and a few pathways of each state; its pathways' ids."""
    with scratch_database(tmp_path_factory.mktemp("check"), scratch_prefix("check")) as url:
        upgrade_head(url)
        engine = make_engine(url)
        with PdiSession(engine) as session:
            load_catalogue(session=session)
            convention_id = session.execute(select(Convention.id).order_by(Convention.id)).scalars().first()
            pathways = [
                factories.pathway(session, convention_id=convention_id, entered_on=date(2019, 3, 1)),
                factories.pathway(
                    session,
                    convention_id=convention_id,
                    entered_on=date(2019, 3, 1),
                    exited_on=date(2019, 6, 30),
                    exit_reason="completed",
                ),
                factories.pathway(session, convention_id=convention_id, prescribed_on=date(2019, 2, 1)),
                factories.pathway(
                    session, convention_id=convention_id, prescribed_on=date(2019, 2, 1), waitlisted=True
                ),
            ]
            ids = [row.id for row in pathways]
            session.commit()
        yield engine, ids
        engine.dispose()


def run_check(monkeypatch, engine: Engine):
    monkeypatch.setattr(app.cli, "get_engine", lambda: engine)
    return runner.invoke(cli, ["check"])


@pytest.fixture
def damage(checked):
    """Run SQL on the checked database around the ORM (no feed capture), and undo it afterwards."""
    engine, _ids = checked
    undo: list[str] = []

    def apply(statement, undo_statement) -> None:
        with engine.begin() as connection:
            connection.execute(text(statement) if isinstance(statement, str) else statement)
        undo.append(undo_statement)

    yield apply
    with engine.begin() as connection:
        for statement in reversed(undo):
            connection.execute(text(statement) if isinstance(statement, str) else statement)


def test_a_database_that_holds_together_passes(checked, monkeypatch):
    engine, _ids = checked
    result = run_check(monkeypatch, engine)
    assert result.exit_code == 0, result.output
    assert "ok (migrations, seat counters, seat changes by day, change feed)" in result.output


def test_a_corrupt_seat_counter_is_named_with_its_recount(checked, damage, monkeypatch):
    engine, ids = checked
    with engine.connect() as connection:
        convention_id, occupied = connection.execute(
            text(
                "SELECT convention_id, occupied FROM convention_seats "
                "WHERE convention_id = (SELECT convention_id FROM pathway WHERE id = :id)"
            ),
            {"id": ids[0]},
        ).one()
    damage(
        f"UPDATE convention_seats SET occupied = occupied + 3 WHERE convention_id = {convention_id}",
        f"UPDATE convention_seats SET occupied = occupied - 3 WHERE convention_id = {convention_id}",
    )
    result = run_check(monkeypatch, engine)
    assert result.exit_code == 1
    assert (
        f"error: seat counters: convention {convention_id}: counters occupied {occupied + 3}, reserved 1, "
        f"waitlisted 1, recount occupied {occupied}, reserved 1, waitlisted 1" in result.output
    )
    assert "1 difference(s)" in result.output


def test_a_corrupt_change_by_day_is_named(checked, damage, monkeypatch):
    engine, ids = checked
    with engine.connect() as connection:
        convention_id = connection.execute(text(f"SELECT convention_id FROM pathway WHERE id = {ids[0]}")).scalar_one()
    damage(
        f"UPDATE convention_seat_day SET reserved_delta = reserved_delta + 1 "
        f"WHERE convention_id = {convention_id} AND day = '2019-03-01'",
        f"UPDATE convention_seat_day SET reserved_delta = reserved_delta - 1 "
        f"WHERE convention_id = {convention_id} AND day = '2019-03-01'",
    )
    result = run_check(monkeypatch, engine)
    assert result.exit_code == 1
    assert (
        f"error: seat changes by day: convention {convention_id} on 2019-03-01: kept (occupied +2, reserved +1), "
        "recount (occupied +2, reserved +0)" in result.output
    )


def test_a_deleted_feed_row_is_an_entity_the_replay_misses(checked, damage, monkeypatch):
    engine, ids = checked
    with engine.connect() as connection:
        row = connection.execute(select(Change).where(Change.kind == "pathway", Change.entity_id == str(ids[2]))).one()
    damage(
        f"DELETE FROM change WHERE kind = 'pathway' AND entity_id = '{ids[2]}'",
        insert(Change).values(**row._asdict()),
    )
    result = run_check(monkeypatch, engine)
    assert result.exit_code == 1
    assert f"error: change feed: pathway {ids[2]} has no feed row: replaying the feed from 0 misses it" in result.output


def test_a_row_changed_without_the_feed_knowing_is_named(checked, damage, monkeypatch):
    engine, ids = checked
    with engine.connect() as connection:
        updated_at = connection.execute(text(f"SELECT updated_at FROM pathway WHERE id = {ids[1]}")).scalar_one()
    damage(
        f"UPDATE pathway SET updated_at = '2099-01-01 00:00:00', planned_end_on = '2019-07-31' WHERE id = {ids[1]}",
        f"UPDATE pathway SET updated_at = '{updated_at}', planned_end_on = NULL WHERE id = {ids[1]}",
    )
    result = run_check(monkeypatch, engine)
    assert result.exit_code == 1
    assert f"error: change feed: pathway {ids[1]} changed at " in result.output
    assert "pollers missed the change" in result.output


def test_a_feed_row_naming_the_wrong_readers_is_named(checked, damage, monkeypatch):
    engine, ids = checked
    damage(
        f"UPDATE change SET created_by_key_id = 999 WHERE kind = 'pathway' AND entity_id = '{ids[3]}'",
        f"UPDATE change SET created_by_key_id = NULL WHERE kind = 'pathway' AND entity_id = '{ids[3]}'",
    )
    result = run_check(monkeypatch, engine)
    assert result.exit_code == 1
    assert f"error: change feed: pathway {ids[3]}'s feed row names operator" in result.output
    assert "and key 999, the pathway operator" in result.output


def test_a_cursor_past_the_clock_is_named(checked, damage, monkeypatch):
    engine, _ids = checked
    damage("UPDATE feed_clock SET last_cursor = last_cursor - 1", "UPDATE feed_clock SET last_cursor = last_cursor + 1")
    result = run_check(monkeypatch, engine)
    assert result.exit_code == 1
    assert "lies past the feed clock" in result.output


def test_a_database_behind_the_code_is_told_to_migrate(checked, damage, monkeypatch):
    engine, _ids = checked
    script = ScriptDirectory.from_config(alembic_config())
    (head,) = script.get_heads()
    previous = script.get_revision(head).down_revision
    damage(
        f"UPDATE alembic_version SET version_num = '{previous}'", f"UPDATE alembic_version SET version_num = '{head}'"
    )
    result = run_check(monkeypatch, engine)
    assert result.exit_code == 1
    assert (
        f"error: migrations: the database is at revision {previous}, the code's head is {head} (run `pdi migrate`)"
        in result.output
    )


@pytest.mark.postgres_only
def test_tables_never_analysed_are_a_warning(tmp_path, monkeypatch):
    with scratch_database(tmp_path, scratch_prefix("analyse")) as url:
        upgrade_head(url)
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                # Autovacuum may not analyse it behind the test's back.
                connection.execute(text("ALTER TABLE change SET (autovacuum_enabled = off)"))
            with PdiSession(engine) as session:
                load_catalogue(session=session)  # more feed rows than autovacuum's threshold
                session.commit()
            result = run_check(monkeypatch, engine)
            assert result.exit_code == 0, result.output  # a warning, not a difference
            warning = "warning: table change was never analysed: its queries are planned without statistics"
            assert warning in result.output
            with engine.begin() as connection:
                connection.execute(text("ANALYZE change"))
            assert warning not in run_check(monkeypatch, engine).output
        finally:
            engine.dispose()
