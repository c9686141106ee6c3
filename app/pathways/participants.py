"""The FSE participant record of a pathway (SPEC C9): who may read and write it, and how pathway
writes and exits carry it.

- admin and the pathway's operator read `participant` (operators only ever see their own
  pathways); portal keys and readers never: their reads carry no `participant` key at all;
- admin and operator keys write it, with the pathway (create, correction) and with the exit (the
  leaving fields); a portal key that sends it is refused (403): a prescriber records no
  characteristics it could not read back;
- a write of the record touches the pathway's `updated_at`, so that its ETag moves and the change
  feed carries the pathway again.
"""

from typing import Any

from sqlalchemy import FromClause, func, insert, or_, select, update
from sqlmodel import Session

from app.audit.service import record
from app.auth.models import Role
from app.core.caller import Caller
from app.core.db import ids_table, rows_table
from app.core.errors import Conflict, Forbidden
from app.core.time import utcnow
from app.pathways import access, reads, service
from app.pathways.esf_models import ENTRY_FIELDS, LabourStatusOnLeaving, PathwayParticipant
from app.pathways.esf_schemas import LEAVING_FIELDS, ParticipantIn, ParticipantRead, leaving_fields
from app.pathways.models import Pathway
from app.pathways.schemas import ExitIn, PathwayCreate, PathwayRead, PathwayUpdate
from app.periods.service import ensure_open

AUDIT_PATHWAY = reads.AUDIT_PATHWAY
PARTICIPANT_READERS = (Role.admin, Role.operator)


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


def with_participants(*, session: Session, caller: Caller, reads: list[PathwayRead]) -> list[PathwayRead]:
    """The read models with their `participant` for a caller who may read it (one query for all);
    unchanged (no `participant` key) for any other, and for a pathway with neither an FSE record
    nor an exit (`has_participant`: an object of nulls would say nothing, at a quarter of a feed
    page's bytes)."""
    if not may_read(caller) or not reads:
        return reads
    rows = rows_of(session, [read.id for read in reads])
    return [
        read.model_copy(update={"participant": ParticipantRead.of(rows.get(read.id), read.exit_reason)})
        if has_participant(has_record=read.id in rows, exit_reason=read.exit_reason)
        else read
        for read in reads
    ]


def _check_writer(caller: Caller, participant: ParticipantIn | None) -> None:
    if participant is not None and caller.role not in PARTICIPANT_READERS:
        raise Forbidden("Only admin and operator keys record the FSE participant (`participant`)")


def _write(*, session: Session, caller: Caller, pathway: Pathway, fields: dict[str, Any], action: str) -> list[str]:
    """Store `fields` on the pathway's record (created when missing); the names that changed."""
    row = session.get(PathwayParticipant, pathway.id)
    if row is None:
        row = PathwayParticipant(pathway_id=pathway.id)
    changed = [name for name, value in fields.items() if getattr(row, name) != value]
    if not changed:
        return []
    # The ESF+ report counts the record at entry in the year of the entry, the leaving fields in
    # the year of the exit: a consolidated year's counts do not move (409).
    ensure_open(
        session=session,
        days=[
            pathway.entered_on if any(name in ENTRY_FIELDS for name in changed) else None,
            pathway.exited_on if any(name in LEAVING_FIELDS for name in changed) else None,
        ],
    )
    for name in changed:
        setattr(row, name, fields[name])
    session.add(row)
    pathway.updated_at = utcnow()
    session.add(pathway)
    record(
        session=session,
        caller=caller,
        entity=AUDIT_PATHWAY,
        entity_id=pathway.id,
        action=action,
        fields=[f"participant.{name}" for name in changed],
    )
    session.flush()
    return changed


def create_pathway(*, session: Session, caller: Caller, body: PathwayCreate) -> Pathway:
    """service.create_pathway, then the participant given with it."""
    _check_writer(caller, body.participant)
    pathway = service.create_pathway(session=session, caller=caller, body=body)
    if body.participant is not None:
        given = body.participant.model_dump(exclude_none=True)
        _write(session=session, caller=caller, pathway=pathway, fields=given, action="create")
    return pathway


def update_pathway(
    *, session: Session, caller: Caller, pathway_id: int, body: PathwayUpdate, if_match: str | None
) -> Pathway:
    """service.update_pathway (its If-Match, its rules), then the participant's corrections:
    fields given overwrite (null clears), absent ones stay."""
    _check_writer(caller, body.participant)
    pathway = service.update_pathway(
        session=session, caller=caller, pathway_id=pathway_id, body=body, if_match=if_match
    )
    if body.participant is not None:
        given = body.participant.model_dump(exclude_unset=True)
        _write(session=session, caller=caller, pathway=pathway, fields=given, action="update")
    return pathway


def _effective(row: PathwayParticipant | None, name: str) -> Any:
    value = getattr(row, name) if row is not None else None
    if name == "labour_status_on_leaving" and value is None:
        return LabourStatusOnLeaving.job_searching
    return value


def exit_pathway(*, session: Session, caller: Caller, pathway_id: int, body: ExitIn) -> Pathway:
    """service.record_exit, then the exit's leaving fields."""
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    new_exit = service.record_exit(session=session, caller=caller, pathway=pathway, body=body)
    record_leaving(session=session, caller=caller, pathway=pathway, given=leaving_fields(body), new_exit=new_exit)
    return pathway


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


def record_leaving(
    *, session: Session, caller: Caller, pathway: Pathway, given: dict[str, Any], new_exit: bool
) -> None:
    """The leaving fields of a single exit: stored with a new exit; compared with an exit
    already recorded (409 when they differ)."""
    if not given:
        return
    if not new_exit:
        if conflict := leaving_conflict(
            pathway_id=pathway.id, row=session.get(PathwayParticipant, pathway.id), given=given
        ):
            raise conflict
        return
    _write(session=session, caller=caller, pathway=pathway, fields=given, action="exit")


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
