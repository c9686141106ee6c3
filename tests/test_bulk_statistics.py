"""Statistics after bulk writes (issue 37): a transaction that writes ANALYZE_AFTER_ROWS rows or
more (`pdi retention`, the expiry job) analyses the tables it wrote, on PostgreSQL; a smaller
one leaves them to autovacuum. `pdi seed` and `pdi demo` always do (tests/test_restore_drill.py)."""

from datetime import date

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import app.cli
import app.core.sql
from app.core.caller import CLI
from app.core.engines import make_engine
from app.core.migrate import upgrade_head
from app.pathways.retention import apply_retention
from seed.loader import CATALOGUE_TABLES
from tests import factories
from tests.scratch import scratch_database
from tests.test_check import scratch_prefix

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]


def times_analysed(session, table: str) -> int:
    # The statistics a transaction reads are a snapshot taken once: cleared to see the new count.
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    return session.execute(
        text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = :table AND schemaname = current_schema()"),
        {"table": table},
    ).scalar_one()


@pytest.mark.parametrize(("threshold", "analysed"), [(6, 1), (7, 0)])
def test_a_retention_of_many_pathways_analyses_what_it_wrote(session, monkeypatch, threshold, analysed):
    convention = factories.convention(session)
    for _ in range(3):
        factories.pathway(
            session,
            convention_id=convention.id,
            entered_on=date(2010, 1, 4),
            exited_on=date(2010, 6, 30),
            exit_reason="completed",
        )
    monkeypatch.setattr(app.core.sql, "ANALYZE_AFTER_ROWS", threshold)
    before = {table: times_analysed(session, table) for table in ("pathway", "beneficiary")}
    report = apply_retention(session=session, caller=CLI, ended_before=date(2011, 1, 1), dry_run=False)
    assert report.pathways_detached == 3 and report.persons_forgotten == 3  # 6 rows written
    after = {table: times_analysed(session, table) for table in ("pathway", "beneficiary")}
    assert after == {table: count + analysed for table, count in before.items()}


def test_pdi_seed_leaves_the_catalogue_analysed(tmp_path, monkeypatch):
    with scratch_database(tmp_path, scratch_prefix("seed")) as url:
        upgrade_head(url)
        engine = make_engine(url)
        try:
            monkeypatch.setattr(app.cli, "get_engine", lambda: engine)
            result = CliRunner().invoke(app.cli.cli, ["seed"])
            assert result.exit_code == 0, result.output
            with engine.connect() as connection:
                never = set(
                    connection.execute(
                        text(
                            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'public' "
                            "AND last_analyze IS NULL AND last_autoanalyze IS NULL"
                        )
                    ).scalars()
                )
        finally:
            engine.dispose()
    filled = {getattr(table, "__tablename__", table) for table in CATALOGUE_TABLES}
    assert filled & never == set()
    assert "pathway" in never  # what it did not fill is left alone
