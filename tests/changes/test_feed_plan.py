"""The feed's page is a walk of the cursor whatever the statistics (issue 37): on a feed loaded
without statistics, where a plain kind filter is planned as a fetch of every row of the visible
kinds by the (kind, entity_id) index and a sort, each caller's page statement is planned as the
primary key's index walked from the cursor under the page's LIMIT, with no sort and no other
scan of `change`."""

from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from app.changes.service import KEY_HOLDER_KINDS, PUBLIC_KINDS, page_statement
from app.core.caller import ANONYMOUS, Caller, Role
from app.core.db import PdiSession
from app.core.engines import make_engine
from app.core.migrate import upgrade_head
from app.outbox.models import Change
from tests.scratch import scratch_database
from tests.test_check import scratch_prefix

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

FEED_ROWS = 60_000


@pytest.fixture(scope="module")
def unanalysed_feed(tmp_path_factory) -> Iterator[Engine]:
    """A feed of mostly pathways (a few hundred catalogue rows among them), never analysed."""
    with scratch_database(tmp_path_factory.mktemp("plan"), scratch_prefix("plan")) as url:
        upgrade_head(url)
        engine = make_engine(url)
        with engine.begin() as connection:
            for table in ("change", "pathway"):
                connection.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = off)"))
            connection.execute(
                text(
                    "INSERT INTO change (cursor, kind, entity_id, modified, operator_id, created_by_key_id) "
                    "SELECT n, CASE WHEN n % 200 = 0 THEN 'site' WHEN n % 150 = 0 THEN 'convention' "
                    "ELSE 'pathway' END, n::text, now(), n % 40, n % 7 FROM generate_series(1, :rows) AS n"
                ),
                {"rows": FEED_ROWS},
            )
            connection.execute(text("UPDATE feed_clock SET last_cursor = :rows"), {"rows": FEED_ROWS})
            analysed = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() "
                    "AND tablename IN ('change', 'pathway')"
                )
            ).scalar_one()
            assert analysed == 0, "the feed must be planned without statistics"
        yield engine
        engine.dispose()


def plan(engine: Engine, statement) -> dict:
    with PdiSession(engine) as session:
        compiled = statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        return session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()[0]["Plan"]


def nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def scans_of_change(node: dict) -> list[dict]:
    return [each for each in nodes(node) if each.get("Relation Name") == "change"]


CALLERS = {
    "anonymous": ANONYMOUS,
    "reader": Caller(key_id=1, name="reader", role=Role.reader),
    "operator": Caller(key_id=2, name="operator", role=Role.operator, operator_id=3),
    "portal": Caller(key_id=4, name="portal", role=Role.portal),
    "admin": Caller(key_id=5, name="admin", role=Role.admin),
}


@pytest.mark.parametrize("kinds", [None, ("site", "convention")], ids=["every kind", "kinds asked"])
@pytest.mark.parametrize("after", [0, FEED_ROWS // 2])
@pytest.mark.parametrize("who", CALLERS)
def test_a_page_walks_the_cursor_without_statistics(unanalysed_feed, who, after, kinds):
    with PdiSession(unanalysed_feed) as session:
        statement = page_statement(session=session, caller=CALLERS[who], after=after, limit=100, kinds=kinds)
    root = plan(unanalysed_feed, statement)
    assert root["Node Type"] == "Limit", root
    assert not [node for node in nodes(root) if node["Node Type"] in ("Sort", "Incremental Sort")], root
    (scan,) = scans_of_change(root)
    assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), scan
    assert scan["Index Name"] == "pk_change" and scan["Scan Direction"] == "Forward", scan
    assert scan["Index Cond"] == f"(cursor > {after})", scan


def test_the_plain_kind_filter_would_scan_every_row_of_its_kinds(unanalysed_feed):
    """What the page statement avoids, on the same data: without it the test above proves nothing."""
    naive = (
        select(Change.cursor)
        .where(Change.cursor > 0, Change.kind.in_(PUBLIC_KINDS) | Change.kind.in_(KEY_HOLDER_KINDS))
        .order_by(Change.cursor)
        .limit(100)
    )
    root = plan(unanalysed_feed, naive)
    (scan,) = scans_of_change(root)
    assert scan["Node Type"] != "Index Scan" or scan["Index Name"] != "pk_change"
    assert [node for node in nodes(root) if node["Node Type"] == "Sort"], root
