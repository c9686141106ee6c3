"""app.core.sql.rows_table: a batch's rows as a table, read back as they were given on both
databases (array parameters on PostgreSQL, one JSON parameter on SQLite)."""

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, String, select

from app.core.sql import ids_table, rows_table

COLUMNS = [
    ("id", Integer()),
    ("ref", String(64)),
    ("day", Date()),
    ("hours", Float()),
    ("flag", Boolean()),
    ("at", DateTime()),
]


def test_rows_come_back_as_given(session):
    rows = [
        (1, "plain", date(2019, 2, 1), 35.5, True, datetime(2020, 1, 2, 3, 4, 5, 6)),
        (2, 'quo\'te "and" ünïcode, ; \\ [1]', date(2000, 12, 31), 0.0, False, datetime(2020, 1, 2)),
        (3, None, None, None, None, None),
        (1, "plain", date(2019, 2, 1), 35.5, True, datetime(2020, 1, 2, 3, 4, 5, 6)),  # duplicates stay
    ]
    table = rows_table(session, "given", COLUMNS, rows)
    read = session.execute(select(*(table.c[name] for name, _type in COLUMNS))).all()
    assert sorted(map(tuple, read), key=repr) == sorted(rows, key=repr)


def test_an_empty_batch_is_an_empty_table(session):
    table = rows_table(session, "given", COLUMNS, [])
    assert session.execute(select(table.c.id)).all() == []


def test_ids_table_holds_each_id_once(session):
    table = ids_table(session, [5, 3, 5, 2_000_000_000])
    assert sorted(session.execute(select(table.c.id)).scalars()) == [3, 5, 2_000_000_000]


def test_the_statement_is_the_same_whatever_the_number_of_rows(session):
    def compiled(count: int) -> tuple[str, int]:
        table = rows_table(session, "given", COLUMNS[:3], [(n, f"r{n}", date(2019, 1, 1)) for n in range(count)])
        statement = select(table.c.id).compile(bind=session.get_bind())
        return str(statement), len(statement.params)

    assert compiled(1) == compiled(1500)
