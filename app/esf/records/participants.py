"""The FSE participant record of a pathway (SPEC C9): who may read and write it, how a pathway's
read carries it, and how the pathway's writes and exits store it.

- admin and the pathway's operator read `participant` (operators only ever see their own
  pathways); portal keys and readers never: their reads carry no `participant` key at all;
- admin and operator keys write it, with the pathway (create, correction) and with the exit (the
  leaving fields); a portal key that sends it is refused (403): a prescriber records no
  characteristics it could not read back;
- the pathway's writes call these functions (app/pathways/service.py, exit_records.py), never
  the reverse; a write of the record moves the pathway's `updated_at` there, so that its ETag
  moves and the change feed carries the pathway again.
"""

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import FromClause, func, insert, or_, select, update
from sqlmodel import Session

from app.audit.service import record
from app.auth.models import Role
from app.core.caller import Caller
from app.core.errors import AppError, Conflict, Forbidden
from app.core.sql import ids_table, rows_table
from app.esf.records.models import ENTRY_FIELDS, LabourStatusOnLeaving, PathwayParticipant
from app.esf.records.schemas import LEAVING_FIELDS, ParticipantIn, ParticipantRead, leaving_fields
from app.periods.service import ensure_open

# The record's writes are audited in its pathway's trail (app.pathways.reads.AUDIT_PATHWAY).
AUDIT_PATHWAY = "pathway"
PARTICIPANT_READERS = (Role.admin, Role.operator)
Read = TypeVar("Read", bound=BaseModel)


def may_read(caller: Caller) -> bool:
    return caller.role in PARTICIPANT_READERS


def rows_of(session: Session, pathway_ids: list[int]) -> dict[int, PathwayParticipant]:
    if not pathway_ids:
        return {}
    named = ids_table(session, pathway_ids)
    rows = session.execute(
        select(PathwayParticipant).join(named, named.c.id == PathwayParticipant.pathway_id)
    ).scalars()
    return {row.pathway_id: row for row in rows}


def has_participant(*, has_record, exit_reason):
    """Whether a pathway's read carries `participant`: when it has an FSE record, or an exit (its
    situation on leaving is known from the exit's reason). Python booleans or SQL expressions."""
    if isinstance(has_record, bool):
        return has_record or exit_reason is not None
    return or_(has_record, exit_reason.is_not(None))


def with_participants(*, session: Session, caller: Caller, reads: list[Read]) -> list[Read]:
    """The pathways' read models (PathwayRead) with their `participant` for a caller who may read
    it (one query for all); unchanged (no `participant` key) for any other, and for a pathway with
    neither an FSE record nor an exit (`has_participant`: an object of nulls would say nothing, at
    a quarter of a feed page's bytes)."""
    if not may_read(caller) or not reads:
        return reads
    rows = rows_of(session, [read.id for read in reads])
    return [
        read.model_copy(update={"participant": ParticipantRead.of(rows.get(read.id), read.exit_reason)})
        if has_participant(has_record=read.id in rows, exit_reason=read.exit_reason)
        else read
        for read in reads
    ]


def check_writer(caller: Caller, participant: ParticipantIn | None) -> None:
    if participant is not None and caller.role not in PARTICIPANT_READERS:
        raise Forbidden("Only admin and operator keys record the FSE participant (`participant`)")


def write_participant(
    *,
    session: Session,
    caller: Caller,
    pathway_id: int,
    entered_on: date | None,
    exited_on: date | None,
    fields: dict[str, Any],
    action: str,
) -> list[str]:
    """Store `fields` on the record of the pathway entered and exited on those days (created when
    missing), audited in the pathway's trail; the names that changed, for the pathway's writer to
    move its `updated_at` when there are any."""
    row = session.get(PathwayParticipant, pathway_id)
    if row is None:
        row = PathwayParticipant(pathway_id=pathway_id)
    changed = [name for name, value in fields.items() if getattr(row, name) != value]
    if not changed:
        return []
    # The ESF+ report counts the record at entry in the year of the entry, the leaving fields in
    # the year of the exit: a consolidated year's counts do not move (409).
    ensure_open(
        session=session,
        days=[
            entered_on if any(name in ENTRY_FIELDS for name in changed) else None,
            exited_on if any(name in LEAVING_FIELDS for name in changed) else None,
        ],
    )
    for name in changed:
        setattr(row, name, fields[name])
    session.add(row)
    record(
        session=session,
        caller=caller,
        entity=AUDIT_PATHWAY,
        entity_id=pathway_id,
        action=action,
        fields=[f"participant.{name}" for name in changed],
    )
    session.flush()
    return changed


def _effective(row: PathwayParticipant | None, name: str) -> Any:
    value = getattr(row, name) if row is not None else None
    if name == "labour_status_on_leaving" and value is None:
        return LabourStatusOnLeaving.job_searching
    return value


def leaving_conflict(*, pathway_id: int, row: PathwayParticipant | None, given: dict[str, Any]) -> Conflict | None:
    """An exit posted again whose leaving fields differ from those recorded: a conflict, as for
    another date or reason."""
    differ = [name for name, value in given.items() if _effective(row, name) != value]
    if not differ:
        return None
    return Conflict(
        f"Pathway {pathway_id} already has an exit recorded with another {', '.join(differ)}; "
        "PATCH its participant to correct it"
    )


def check_same_leaving(*, session: Session, pathway_id: int, given: dict[str, Any]) -> None:
    """The leaving fields of an exit already recorded, posted again: 409 when they differ from
    those recorded."""
    if not given:
        return
    if conflict := leaving_conflict(
        pathway_id=pathway_id, row=session.get(PathwayParticipant, pathway_id), given=given
    ):
        raise conflict


def check_leaving_batch(
    *, session: Session, items: dict[int, BaseModel], decided: dict[int, tuple[str, int | None, AppError | None]]
) -> dict[int, dict[str, Any]]:
    """The FSE leaving fields of a batch of exits (SPEC C9), on the decisions taken for its items
    (exit_records.Decision, by index): an exit posted again with other leaving fields becomes an
    error (409), as another date or reason would; returns the fields to store per pathway newly
    exited. One query for the whole batch."""
    given = {index: leaving_fields(items[index]) for index in decided if decided[index][0] != "error"}
    rows = rows_of(session, [decided[index][1] for index, fields in given.items() if fields])
    leaving: dict[int, dict[str, Any]] = {}
    for index, fields in sorted(given.items()):
        outcome, pathway_id, _error = decided[index]
        if not fields:
            continue
        if outcome == "unchanged" and pathway_id not in leaving:
            if conflict := leaving_conflict(pathway_id=pathway_id, row=rows.get(pathway_id), given=fields):
                decided[index] = ("error", pathway_id, conflict)
        elif outcome == "unchanged":
            if any(leaving[pathway_id].get(name, value) != value for name, value in fields.items()):
                conflict = Conflict(f"Pathway {pathway_id} is exited twice in this batch with other leaving fields")
                decided[index] = ("error", pathway_id, conflict)
        else:
            leaving[pathway_id] = fields
    return leaving


def write_leaving_batch(*, session: Session, leaving: dict[int, dict[str, Any]]) -> None:
    """Store the leaving fields of a batch's new exits: one INSERT for the pathways that had no
    record, one UPDATE for those that had (a field given overwrites, one not given stays: the
    fields given are never null), each from the batch's rows as a table (rows_table). The
    batch's audit event and feed rows are those of its exits (exit_records.write_exits)."""
    leaving = {pathway_id: fields for pathway_id, fields in leaving.items() if fields}
    if not leaving:
        return
    named = ids_table(session, leaving)
    existing = set(
        session.execute(
            select(PathwayParticipant.pathway_id).join(named, named.c.id == PathwayParticipant.pathway_id)
        ).scalars()
    )
    table = PathwayParticipant.__table__
    columns = ("pathway_id", *LEAVING_FIELDS)

    def rows_of_batch(pathway_ids: list[int]) -> FromClause:
        return rows_table(
            session,
            "leaving",
            [(name, table.c[name].type) for name in columns],
            [(pathway_id, *(leaving[pathway_id].get(name) for name in LEAVING_FIELDS)) for pathway_id in pathway_ids],
        )

    if new := sorted(set(leaving) - existing):
        values = rows_of_batch(new)
        session.execute(insert(table).from_select(columns, select(*(values.c[name] for name in columns))))
    if existing:
        values = rows_of_batch(sorted(existing))
        session.execute(
            update(table)
            .where(table.c.pathway_id == values.c.pathway_id)
            .values({name: func.coalesce(values.c[name], table.c[name]) for name in LEAVING_FIELDS})
        )
