"""Statistics after bulk writes (issue 37): a transaction that writes ANALYZE_AFTER_ROWS rows or
more (`pdi retention`, the expiry job) analyses the tables it wrote, on PostgreSQL; a smaller
one leaves them to autovacuum. `pdi seed` and `pdi demo` always do (tests/test_restore_drill.py)."""

from datetime import date

import pytest
from sqlalchemy import text

import app.core.db
from app.core.caller import CLI
from app.pathways.retention import apply_retention
from tests import factories

pytestmark = pytest.mark.postgres_only


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
    monkeypatch.setattr(app.core.db, "ANALYZE_AFTER_ROWS", threshold)
    before = {table: times_analysed(session, table) for table in ("pathway", "beneficiary")}
    report = apply_retention(session=session, caller=CLI, ended_before=date(2011, 1, 1), dry_run=False)
    assert report.pathways_detached == 3 and report.persons_forgotten == 3  # 6 rows written
    after = {table: times_analysed(session, table) for table in ("pathway", "beneficiary")}
    assert after == {table: count + analysed for table, count in before.items()}
