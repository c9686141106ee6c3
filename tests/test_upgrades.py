"""Upgrades keep data (SPEC C14): the demo data set, loaded into a database at an earlier
migration revision and migrated to head, keeps every row, gives the same bilan as the same data
loaded at head, and passes `pdi check`.

The earlier revisions are every revision from FIRST_REVISION on, read from Alembic's script
directory: each migration added later is tested from the revision before it with no change
here. The data at an earlier revision is the head's demo data, copied table by table in the
columns that revision has (tables it lacks are left to the migrations that create and fill
them); the tables the triggers keep (seat counters, changes by day) are rebuilt by those
triggers from the rows copied, as they would have been on that schema."""

from collections.abc import Iterator
from datetime import date

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, func, inspect, select, text
from sqlalchemy.engine import Engine

from app.core.db import PdiSession
from app.core.engines import make_engine
from app.core.migrate import alembic_config, upgrade_head
from app.indicators.bilan.build import build_bilan
from app.integrity import check_database
from app.models import metadata
from seed.demo import generate_demo
from tests.scratch import scratch_database
from tests.test_check import scratch_prefix

pytestmark = pytest.mark.slow

# Contract 1.3's migrations come after f3b7d1a9c5e2; its down revision is tested too.
FIRST_REVISION = "e9c4a2b6d8f1"
# Kept by triggers from the pathways (app/seats/models.py): never copied, always recounted.
KEPT_BY_TRIGGERS = {"convention_seats", "convention_seat_day"}
BILAN_YEARS = [2018, 2019, 2020]


def earlier_revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    heads = set(script.get_heads())
    revisions = [revision.revision for revision in script.walk_revisions(base=FIRST_REVISION, head="heads")]
    return [revision for revision in reversed(revisions) if revision not in heads]


def test_the_revisions_tested_reach_back_to_the_first_one():
    revisions = earlier_revisions()
    assert revisions[0] == FIRST_REVISION
    script = ScriptDirectory.from_config(alembic_config())
    (head,) = script.get_heads()
    assert script.get_revision(head).down_revision == revisions[-1], "the revision just before head"


@pytest.fixture(scope="module")
def at_head(tmp_path_factory) -> Iterator[Engine]:
    """The demo data set loaded at head (scale 1)."""
    with scratch_database(tmp_path_factory.mktemp("upgrades"), scratch_prefix("upgrade_head")) as url:
        upgrade_head(url)
        engine = make_engine(url)
        with PdiSession(engine) as session:
            generate_demo(session=session, scale=1)
            session.commit()
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def head_bilan(at_head) -> dict:
    """The bilan of the data loaded at head, which every upgraded copy must give: computed once."""
    return bilan(at_head)


def copy_rows(source: Engine, target: Engine) -> None:
    """Every row of `source` into `target`'s tables (at an earlier revision), in the columns both
    have, parents before children."""
    schema = MetaData()
    schema.reflect(target)
    with source.connect() as reading, target.begin() as writing:
        for table in schema.sorted_tables:
            if table.name in KEPT_BY_TRIGGERS | {"alembic_version"} or table.name not in metadata.tables:
                continue
            columns = [column.name for column in table.columns if column.name in metadata.tables[table.name].c]
            order = [metadata.tables[table.name].c[column.name] for column in table.primary_key.columns]
            rows = reading.execute(select(*(metadata.tables[table.name].c[name] for name in columns)).order_by(*order))
            batch = [row._asdict() for row in rows]
            # The single-row tables the migrations create (the feed clock) are replaced.
            writing.execute(table.delete())
            if batch:
                writing.execute(table.insert(), batch)
        if target.dialect.name == "postgresql":
            # Ids were copied as they are: the sequences continue after them.
            for table in schema.sorted_tables:
                if "id" in table.c and table.c.id.autoincrement and table.name not in KEPT_BY_TRIGGERS:
                    writing.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table.name}), false) "
                            f"WHERE pg_get_serial_sequence('{table.name}', 'id') IS NOT NULL"
                        )
                    )


def row_counts(engine: Engine, tables: set[str]) -> dict[str, int]:
    """Rows of each of `tables`: those the earlier revision had (a table a later migration creates
    starts empty, as it would in a real upgrade)."""
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
            if name in tables
            and name != "convention_seat_day"  # a day whose changes came back to zero may keep its row
        }


def bilan(engine: Engine) -> dict:
    with PdiSession(engine) as session:
        return build_bilan(session=session, years=BILAN_YEARS, as_of=date(2020, 12, 31)).model_dump()


@pytest.mark.parametrize("revision", earlier_revisions())
def test_data_loaded_at_an_earlier_revision_survives_the_upgrade(at_head, head_bilan, revision, tmp_path):
    with scratch_database(tmp_path, scratch_prefix("upgrade")) as url:
        command.upgrade(alembic_config(url), revision)
        loaded = create_engine(url)
        try:
            tables_then = set(inspect(loaded).get_table_names())
            copy_rows(at_head, loaded)
        finally:
            loaded.dispose()

        upgrade_head(url)

        upgraded = make_engine(url)
        try:
            assert row_counts(upgraded, tables_then) == row_counts(at_head, tables_then)
            assert row_counts(upgraded, tables_then)["pathway"] > 9000
            assert bilan(upgraded) == head_bilan
            with PdiSession(upgraded) as session:
                report = check_database(session)
            assert report.errors == []
        finally:
            upgraded.dispose()
