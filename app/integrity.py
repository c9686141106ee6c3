"""`pdi check`: whether a database (a restored backup, an upgraded one) holds together (SPEC C14).

Each check compares what the database keeps for speed with what it can recount from the rows:

- the schema: the revision Alembic stamped is the head of migrations/;
- the seat counters (convention_seats) and their changes by day (convention_seat_day), kept by
  triggers, against a recount of the pathways (app/seats/states.py says what each counts);
- the change feed against the tables: replaying it from cursor 0 gives every entity at its
  latest change, which holds when each entity has its row, no entity changed after its row's
  last move, each pathway's row names its current readers, and no cursor lies past the clock.

A difference is an error (exit status 1); tables PostgreSQL has never analysed are a warning:
their queries are planned blind until autovacuum gets to them (README, "Backups and restore").
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import String, cast, func, select, text
from sqlmodel import Session

from app.catalogue.models import Action, Family, Operator, Site
from app.conventions.models import Convention
from app.core.migrate import alembic_config
from app.outbox.models import Change, FeedClock, pathway_id_of
from app.pathways.models import Pathway
from app.seats import states
from app.seats.models import ConventionSeatDay, ConventionSeats

# Differences listed per check; the rest are counted.
SHOWN = 20


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def check(self, name: str, differences: Iterable[str]) -> None:
        differences = list(differences)
        if not differences:
            self.passed.append(name)
            return
        self.errors.extend(f"{name}: {difference}" for difference in differences[:SHOWN])
        if len(differences) > SHOWN:
            self.errors.append(f"{name}: … and {len(differences) - SHOWN} more")


def check_database(session: Session) -> Report:
    report = Report()
    report.check("migrations", migration_differences(session))
    if report.errors:
        # The other checks read the current schema's tables.
        return report
    report.check("seat counters", seat_counter_differences(session))
    report.check("seat changes by day", seat_day_differences(session))
    report.check("change feed", feed_differences(session))
    report.warnings.extend(never_analyzed(session))
    return report


def migration_differences(session: Session) -> list[str]:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(session.connection()).get_current_heads())
    if current == heads:
        return []
    shown = ", ".join(sorted(current)) or "none (never migrated)"
    return [f"the database is at revision {shown}, the code's head is {', '.join(sorted(heads))} (run `pdi migrate`)"]


def seat_counter_differences(session: Session) -> list[str]:
    """Each convention's counters against the sum of its pathways' states now."""
    counts = states.now_counts_sql("p")
    recount = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            text(
                f"SELECT p.convention_id, SUM({counts['occupied']}), SUM({counts['reserved']}), "
                f"SUM({counts['waitlisted']}) FROM pathway AS p GROUP BY p.convention_id"
            )
        )
    }
    stored = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            select(
                ConventionSeats.convention_id,
                ConventionSeats.occupied,
                ConventionSeats.reserved,
                ConventionSeats.waitlisted,
            )
        )
    }
    differences = []
    conventions = session.execute(select(Convention.id).order_by(Convention.id)).scalars()
    for convention_id in conventions:
        expected = tuple(int(value) for value in recount.get(convention_id, (0, 0, 0)))
        if convention_id not in stored:
            differences.append(f"convention {convention_id} has no counters row (recount: {_seats(expected)})")
        elif stored[convention_id] != expected:
            differences.append(
                f"convention {convention_id}: counters {_seats(stored[convention_id])}, recount {_seats(expected)}"
            )
    return differences


def _seats(counts) -> str:
    occupied, reserved, waitlisted = counts
    return f"occupied {occupied}, reserved {reserved}, waitlisted {waitlisted}"


def seat_day_differences(session: Session) -> list[str]:
    """The changes by day against the same changes recounted from the pathways."""
    dialect = session.get_bind().dialect.name
    changes = states.day_changes_sql("pathway", +1, dialect)
    recount = {
        (row[0], str(row[1])): (int(row[2]), int(row[3]))
        for row in session.execute(
            text(
                f"SELECT c.convention_id, c.day, SUM(c.occupied), SUM(c.reserved) FROM ({changes}) AS c "
                "GROUP BY c.convention_id, c.day"
            )
        )
        if row[2] or row[3]
    }
    stored = {
        (row[0], str(row[1])): (row[2], row[3])
        for row in session.execute(
            select(
                ConventionSeatDay.convention_id,
                ConventionSeatDay.day,
                ConventionSeatDay.occupied_delta,
                ConventionSeatDay.reserved_delta,
            )
        )
        if row[2] or row[3]
    }
    differences = []
    for key in sorted(recount.keys() | stored.keys()):
        if recount.get(key, (0, 0)) != stored.get(key, (0, 0)):
            (convention_id, day), kept, counted = key, stored.get(key, (0, 0)), recount.get(key, (0, 0))
            differences.append(
                f"convention {convention_id} on {day}: kept (occupied {kept[0]:+d}, reserved {kept[1]:+d}), "
                f"recount (occupied {counted[0]:+d}, reserved {counted[1]:+d})"
            )
    return differences


# The kinds whose entities carry `updated_at`, by the id the feed names them.
_TRACKED = (
    ("family", Family, Family.code),
    ("action", Action, Action.code),
    ("operator", Operator, Operator.id),
    ("site", Site, Site.id),
    ("convention", Convention, Convention.id),
    ("pathway", Pathway, Pathway.id),
)


def feed_differences(session: Session) -> list[str]:
    differences = []
    clock = session.execute(select(FeedClock.last_cursor).where(FeedClock.id == 1)).scalar_one_or_none()
    last = session.execute(select(func.max(Change.cursor))).scalar_one()
    if clock is None:
        differences.append("the feed clock has no row")
    elif last is not None and last > clock:
        differences.append(f"cursor {last} lies past the feed clock ({clock}): pollers could skip changes")
    for kind, model, id_column in _TRACKED:
        entity_id = cast(id_column, String(80))
        rows = session.execute(
            select(entity_id, model.updated_at, Change.cursor, Change.modified)
            .select_from(model)
            .outerjoin(Change, (Change.kind == kind) & (Change.entity_id == entity_id))
            .where((Change.cursor.is_(None)) | (model.updated_at > Change.modified))
            .order_by(id_column)
        ).all()
        for row in rows:
            if row.cursor is None:
                differences.append(f"{kind} {row[0]} has no feed row: replaying the feed from 0 misses it")
            else:
                differences.append(
                    f"{kind} {row[0]} changed at {row.updated_at.isoformat()} after its feed row "
                    f"(cursor {row.cursor}, {row.modified.isoformat()}): pollers missed the change"
                )
    # A pathway's row names its readers (SPEC roles): wrong ones show it to the wrong keys.
    readers = session.execute(
        select(
            Change.entity_id,
            Change.operator_id,
            Change.created_by_key_id,
            Convention.operator_id,
            Pathway.created_by_key_id,
        )
        .join(Pathway, Pathway.id == pathway_id_of(Change.kind, Change.entity_id))
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(
            Change.kind == "pathway",
            (Change.operator_id.is_distinct_from(Convention.operator_id))
            | (Change.created_by_key_id.is_distinct_from(Pathway.created_by_key_id)),
        )
        .order_by(Change.cursor)
    ).all()
    for entity_id, operator_id, key_id, current_operator, current_key in readers:
        differences.append(
            f"pathway {entity_id}'s feed row names operator {operator_id} and key {key_id}, "
            f"the pathway operator {current_operator} and key {current_key}"
        )
    return differences


def never_analyzed(session: Session) -> list[str]:
    """PostgreSQL's tables that were never analysed and hold more rows than autovacuum's analyze
    threshold (smaller ones plan well enough, and autovacuum leaves them be)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    threshold = int(session.execute(text("SELECT current_setting('autovacuum_analyze_threshold')")).scalar_one())
    tables = session.execute(
        text(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NULL AND last_autoanalyze IS NULL "
            "AND schemaname = current_schema() ORDER BY relname"
        )
    ).scalars()
    warnings = []
    for table in tables:
        quoted = session.get_bind().dialect.identifier_preparer.quote(table)
        rows = session.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT {threshold + 1}) AS t"))
        if rows.scalar_one() > threshold:
            warnings.append(
                f"table {table} was never analysed: its queries are planned without statistics (run ANALYZE)"
            )
    return warnings
