"""`pdi demo`'s writer: read the catalogue, plan the data set (plan.py), write its rows (rows.py, esf.py).

The plan is pure Python; this module is the one that touches the database. On PostgreSQL the
rows go in with `COPY` (psycopg's `cursor.copy`), the fastest way into a table: one stream per
table for several copies of the data set (PATHWAYS_PER_WRITE), instead of a statement per few
thousand rows. On SQLite, which has no COPY, they go in as executemany INSERTs. Either way the
copies' beneficiaries get their ids first, in one statement, so that their pathway rows can name
them.
"""

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta

from sqlalchemy import func, insert, text
from sqlalchemy.sql.schema import Table
from sqlmodel import Session, select

from app.audit.service import record
from app.catalogue.models import Action, Site
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.core.caller import CLI
from app.core.changes import FEED_NOTED
from app.core.config import get_settings
from app.core.progress import progress
from app.core.security import pseudonymise
from app.core.time import today, utcnow
from app.esf.records.models import FollowUp, PathwayParticipant
from app.outbox.service import record_missing
from app.pathways.models import ActivityRecord, Beneficiary, BeneficiaryEngagement, Pathway
from app.periods.models import Period, PeriodStatus
from seed.demo.esf import FOLLOW_UP_COLUMNS, PARTICIPANT_COLUMNS, esf_rows
from seed.demo.model import ActionInfo, ConventionInfo, SiteInfo, YearLine
from seed.demo.plan import plan_demo
from seed.demo.rows import BENEFICIARY_COLUMNS, PATHWAY_COLUMNS, REF_PREFIX, CopyRows, copy_rows
from seed.demo.targets import CONSOLIDATED, YEARS

# SQLite's executemany, in batches that keep the parameter lists small.
SQLITE_BATCH = 5000
# What the demo fills (`pdi demo` analyses them once committed): the catalogue when it loads it,
# then its rows, their feed rows and the seat counters and changes by day the triggers keep.
DEMO_TABLES = (
    Beneficiary,
    Pathway,
    ActivityRecord,
    Period,
    PathwayParticipant,
    FollowUp,
    "change",
    "convention_seats",
    "convention_seat_day",
    "audit_event",
)

# Copies of the data set are written together, one COPY per table for about this many pathways.
# The pathways' seat triggers run once per statement and upsert every (convention, day) its rows
# move (app/seats): some 32,000 rows per copy, nearly the same ones in every copy, so a COPY per
# copy upserted them a hundred times at scale 100 (212-217 s, 3.6-4.1 × a COPY of the same rows;
# 123 s, 2.4 ×, grouped). The price is memory: 180 MB peak at scale 20 against 120 MB.
PATHWAYS_PER_WRITE = 100_000


def generate_demo(*, session: Session, scale: int = 1, progress: bool = False) -> str:
    """Write the demo data set and its feed items (flushes, never commits); return a one-line summary.

    The figures match the document only at scale 1; `scale` N repeats every synthetic person's
    pathways N times with distinct beneficiaries (about 10,000 pathways per unit of scale).
    Idempotent: when the demo's first beneficiary already exists nothing is inserted.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    secret = get_settings().secret_key
    first_ref = pseudonymise(f"{REF_PREFIX}1", secret=secret)
    if session.exec(select(Beneficiary.id).where(Beneficiary.ref_hash == first_ref)).first() is not None:
        return "demo: the demo data set is already there; nothing inserted"
    if session.exec(select(func.count()).select_from(Convention)).one() == 0:
        from seed.loader import load_catalogue

        load_catalogue(session=session)
    plan = plan_demo(read_catalogue(session))
    session.flush()  # the rows below go through the connection, around the ORM
    now = utcnow()
    before = session.execute(select(func.coalesce(func.max(Pathway.id), 0))).scalar_one()
    per_copy = len(plan.people) + sum(len(stays) for stays in plan.stays.values()) + 2 * len(plan.prescriptions)
    pathways = beneficiaries = 0
    with _progress(progress, per_copy * scale) as advance:
        pending: list[CopyRows] = []
        for copy in range(scale):
            rows = copy_rows(plan, copy, secret=secret, now=now)
            pending.append(rows)
            beneficiaries += len(rows.beneficiaries)
            pathways += len(rows.pathways)
            if copy == scale - 1 or sum(len(waiting.pathways) for waiting in pending) >= PATHWAYS_PER_WRITE:
                write_copies(session, pending)
                pending = []
            # Counted as made (a copy takes under a second), so that the progress moves every few
            # seconds; the COPY of a group follows its last copy.
            advance(len(rows.beneficiaries) + len(rows.pathways))
        activity_rows = [
            {
                "convention_id": convention.id,
                "recorded_on": date.fromordinal(day),
                "metric": metric,
                "quantity": quantity * scale,
                "created_at": now,
            }
            for convention, day, metric, quantity in plan.activity
        ]
        if activity_rows:
            session.execute(insert(ActivityRecord.__table__), activity_rows)
        # The FSE's records of the co-funded actions' participants (esf.py).
        participants, follow_ups = esf_rows(session, after_pathway_id=before, today=today(), now=now)
        _write_rows(session, PathwayParticipant.__table__, PARTICIPANT_COLUMNS, participants)
        _write_rows(session, FollowUp.__table__, FOLLOW_UP_COLUMNS, follow_ups)
        periods = _consolidate(session)
        exemptions = _exemptions(session, after_pathway_id=before)
    session.flush()
    # The rows went in around the ORM, so the feed's capture did not see them: each gets its item.
    record_missing(session)
    record(
        session=session,
        caller=CLI,
        entity="demo",
        entity_id=f"scale={scale}",
        action="create",
        fields=["beneficiary", "pathway", "activity_record", "period", "pathway_participant", "follow_up"],
    )
    session.flush()
    consolidated = f"; years {', '.join(map(str, periods))} consolidated" if periods else ""
    return (
        f"demo: {beneficiaries:,} beneficiaries, {pathways:,} pathways, {len(activity_rows)} activity records, "
        f"{len(participants):,} FSE participant records, {len(follow_ups):,} follow-ups, "
        f"{exemptions:,} lowered weekly hours targets"
        f"{consolidated} (scale {scale}; the bilan's figures match the document at scale 1 only)"
    )


# SPEC C11: one person in EXEMPTION_EVERY with a pathway open on the edition day has a lowered
# target, for each of these (target, reason, weeks it still holds; None: for good) in turn.
EXEMPTION_EVERY = 12
EXEMPTIONS = (
    (0.0, "health_or_disability", None),
    (8.0, "family_situation", 26),
    (10.0, "health_or_disability", 12),
    (5.0, "other", None),
)


def _exemptions(session: Session, *, after_pathway_id: int) -> int:
    """Lowered targets for some of the demo's persons in a pathway on the edition day, so that the
    meter (GET /weekly-hours) shows persons whose target is not PDI_WEEKLY_HOURS_TARGET."""
    persons = session.scalars(
        select(Pathway.beneficiary_id)
        .where(Pathway.id > after_pathway_id, Pathway.entered_on.is_not(None), Pathway.exited_on.is_(None))
        .where(Pathway.cancelled_on.is_(None), Pathway.beneficiary_id.is_not(None))
        .distinct()
        .order_by(Pathway.beneficiary_id)
    ).all()
    day = today()
    rows = [
        {
            "beneficiary_id": person,
            "weekly_hours_target": target,
            "reason": reason,
            "until": None if weeks is None else day + timedelta(weeks=weeks),
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        for index, person in enumerate(persons[::EXEMPTION_EVERY])
        for target, reason, weeks in [EXEMPTIONS[index % len(EXEMPTIONS)]]
    ]
    if rows:
        session.execute(insert(BeneficiaryEngagement.__table__), rows)
    return len(rows)


def write_copies(session: Session, copies: Sequence[CopyRows]) -> None:
    """Some copies' beneficiaries, then their pathways, each pathway naming its person's new id:
    one COPY per table for all of them (see PATHWAYS_PER_WRITE)."""
    ids = iter(_new_beneficiary_ids(session, sum(len(rows.beneficiaries) for rows in copies)))
    person = PATHWAY_COLUMNS.index("beneficiary_id")
    beneficiaries, pathways = [], []
    for rows in copies:
        copy_ids = [next(ids) for _row in rows.beneficiaries]
        beneficiaries += [(new_id, *row) for new_id, row in zip(copy_ids, rows.beneficiaries, strict=True)]
        # person_key: the person a pathway counts for, kept when retention detaches it (app/pathways/retention.py).
        pathways += [
            (*row[:person], copy_ids[row[person]], *row[person + 1 :], copy_ids[row[person]]) for row in rows.pathways
        ]
    _write_rows(session, Beneficiary.__table__, ("id", *BENEFICIARY_COLUMNS), beneficiaries)
    _write_rows(session, Pathway.__table__, (*PATHWAY_COLUMNS, "person_key"), pathways)


def _new_beneficiary_ids(session: Session, count: int) -> list[int]:
    """`count` fresh ids for beneficiary rows, in increasing order."""
    if session.connection().dialect.name == "postgresql":
        # From the table's own sequence, as its default would: concurrent writers get others.
        allocate = text(
            "SELECT nextval(pg_get_serial_sequence('beneficiary', 'id')) FROM generate_series(1, :count) ORDER BY 1"
        )
        return list(session.execute(allocate, {"count": count}).scalars())
    # SQLite's AUTOINCREMENT gives a new row max(ever given) + 1, kept in sqlite_sequence (ids of
    # people deleted by retention are never reused, since pathways keep them as person keys); the
    # transaction that reads it writes these rows, and SQLite lets one writer at a time commit.
    last_row = session.execute(select(func.coalesce(func.max(Beneficiary.id), 0))).scalar_one()
    last_given = session.execute(
        text("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'beneficiary'")
    ).scalar_one()
    last = max(last_row, last_given)
    return list(range(last + 1, last + 1 + count))


def _write_rows(session: Session, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        driver_connection = connection.connection.driver_connection  # psycopg's, in this transaction
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    for start in range(0, len(rows), SQLITE_BATCH):
        batch = rows[start : start + SQLITE_BATCH]
        # Noted for the feed by generate_demo (record_missing), as the COPY above is.
        session.execute(
            insert(table).execution_options(**{FEED_NOTED: True}),
            [dict(zip(columns, row, strict=True)) for row in batch],
        )


def read_catalogue(session: Session) -> dict[int, ActionInfo]:
    """The seed's actions and their conventions (years, sites), in a stable order."""
    sites = {row.id: row for row in session.exec(select(Site))}
    links: dict[int, list[int]] = defaultdict(list)
    for convention_id, site_id in session.exec(select(ConventionSite.convention_id, ConventionSite.site_id)):
        links[convention_id].append(site_id)
    lines: dict[int, dict[int, YearLine]] = defaultdict(dict)
    for line in session.exec(select(ConventionYear)):
        lines[line.convention_id][line.year] = YearLine(
            line.places, line.months_per_place, line.budget, line.hours_threshold
        )
    by_action: dict[int, list[ConventionInfo]] = defaultdict(list)
    for row in session.exec(select(Convention).where(Convention.status != "cancelled").order_by(Convention.reference)):
        if not set(lines[row.id]) & set(YEARS):
            continue  # nothing planned over the demo's years: no pathways there
        site_infos = tuple(
            SiteInfo(site.id, site.territory, site.insee_code)
            for site in sorted((sites[site_id] for site_id in links[row.id]), key=lambda site: (site.name, site.id))
        )
        by_action[row.action_id].append(
            ConventionInfo(
                row.id, row.reference, row.start_on.toordinal(), row.end_on.toordinal(), lines[row.id], site_infos
            )
        )
    return {
        action.number: ActionInfo(
            action.number,
            action.code,
            action.min_duration_months,
            action.max_duration_months,
            tuple(by_action[action.id]),
        )
        for action in session.exec(select(Action).order_by(Action.number))
    }


def _consolidate(session: Session) -> list[int]:
    """Mark 2018 and 2019 consolidated, as the document has them (a year already recorded is left)."""
    present = set(session.exec(select(Period.year).where(Period.year.in_(list(CONSOLIDATED)))))
    rows = [
        {"year": year, "status": PeriodStatus.consolidated.value, "consolidated_at": at, "consolidated_by_key_id": None}
        for year, at in CONSOLIDATED.items()
        if year not in present
    ]
    if rows:
        session.execute(insert(Period.__table__), rows)
    return [row["year"] for row in rows]


@contextmanager
def _progress(show: bool, length: int) -> Iterator[Callable[[int], None]]:
    if not show:
        yield lambda _n: None
        return
    with progress("demo", length) as advance:
        yield advance
