"""POST /exit-records: operators' batches of exits, as a JSON list or as CSV (read and checked
item by item by batches.py).

A batch is looked up and written set-based (record_exits): its pathways found and locked in one
query, each item decided on the locked rows, all the exits written in one statement and audited
as one event; the FSE leaving fields they carry are checked and stored by ESF+'s records
(app/esf/records/participants.py). A bad item never blocks the good ones, and with `atomic=true`
any bad item means nothing is stored (422 carrying every item's result).
"""

from typing import Any

from sqlalchemy import Row, update
from sqlmodel import Session

from app.audit.service import record
from app.core.caller import Caller
from app.core.changes import FEED_NOTED, note_change
from app.core.errors import AppError, NotFound, PeriodConsolidated
from app.core.sql import rows_table
from app.core.time import utcnow
from app.esf.records import participants
from app.pathways import access, rules, service
from app.pathways.batches import BatchRejected, batch_answer, validated_items
from app.pathways.models import Pathway
from app.pathways.schemas import ExitRecordCounts, ExitRecordIn, ExitRecordResult, ExitRecordsAnswer
from app.pathways.waiting_list import promote_waitlisted
from app.periods.service import closed_years
from app.seats import service as seats

# An item's outcome: ("created" | "unchanged" | "error", the pathway's id, the problem).
Decision = tuple[str, int | None, AppError | None]


def decide_exits(
    *, session: Session, exits: dict[int, tuple[Row | None, dict[str, Any]]], missing
) -> tuple[dict[int, Decision], dict[int, dict[str, Any]]]:
    """Decide each exit of a batch, without writing: `exits` gives, per item, the row of its
    pathway locked by the caller (its state fields, see access.lock_writable_pathways) and the
    exit's fields (exited_on, exit_reason, hours when given). The same rules as
    `service.exit_pathway`, item after item (a pathway named twice sees the first item's exit),
    with the consolidated years read once for the whole batch. Returns each item's decision and
    the state each exited pathway is to be written with."""
    current = {row.id: row._asdict() for row, _exit in exits.values() if row is not None}
    years = set()
    for row, exit_fields in exits.values():
        if row is not None and row.exited_on is None and row.entered_on is not None:
            before = current[row.id]
            years |= rules.touched_years(before, before | exit_fields)
    closed = closed_years(session=session, years=years)
    states: dict[int, dict[str, Any]] = {}
    decided: dict[int, Decision] = {}
    for index, (row, exit_fields) in sorted(exits.items()):
        if row is None:
            decided[index] = ("error", None, missing(index))
            continue
        before = states.get(row.id) or current[row.id]
        try:
            after = rules.exit_state(pathway_id=row.id, before=before, exit_fields=exit_fields)
            if after is None:
                decided[index] = ("unchanged", row.id, None)
                continue
            if clash := sorted(rules.touched_years(before, after) & closed):
                raise PeriodConsolidated(f"{', '.join(map(str, clash))} consolidated: reopen the period first")
        except AppError as error:
            decided[index] = ("error", row.id, error)
            continue
        states[row.id] = after
        decided[index] = ("created", row.id, None)
    return decided, states


EXITED = ("exited_on", "exit_reason", "hours")  # what an exit writes on its pathway


def write_exits(
    *, session: Session, caller: Caller, states: dict[int, dict[str, Any]], pathways: dict[int, Row]
) -> None:
    """Store the exits `decide_exits` accepted: one UPDATE for all of them, from the batch's rows
    as a table (app.core.sql.rows_table: four array parameters on PostgreSQL), one audit event for
    the batch (naming the pathways), their feed rows, then the waiting lists they free (only
    where someone waits: the counters say so without a count)."""
    if not states:
        return
    table = Pathway.__table__
    exits = rows_table(
        session,
        "exits",
        [("pathway_id", table.c.id.type), *((name, table.c[name].type) for name in EXITED)],
        [(pathway_id, *(state[name] for name in EXITED)) for pathway_id, state in sorted(states.items())],
    )
    session.execute(
        update(table)
        .execution_options(**{FEED_NOTED: True})  # noted below
        .where(table.c.id == exits.c.pathway_id)
        .values({name: exits.c[name] for name in EXITED} | {"updated_at": utcnow()})
    )
    session.expire_all()  # the rows changed under the ORM
    record(
        session=session,
        caller=caller,
        entity="exit_records",
        entity_id=f"{len(states)} pathways",
        action="exit",
        fields=[f"pathway:{pathway_id}" for pathway_id in sorted(states)],
    )
    conventions = {pathways[pathway_id].convention_id for pathway_id in states}
    for pathway_id in states:
        note_change(session, "pathway", pathway_id)
    for convention_id in conventions:
        note_change(session, "availability", convention_id)
    for convention_id in seats.with_waiting_list(session, conventions):
        promote_waitlisted(session=session, caller=caller, convention_id=convention_id)


def _pathway_ids(*, session: Session, caller: Caller, items: dict[int, ExitRecordIn]) -> dict[int, int]:
    """The pathway each item names, by index: given by id, or found by (convention, person, entry)
    in one query for the whole batch. An item whose pathway is not found is absent."""
    ids = {index: item.pathway_id for index, item in items.items() if item.pathway_id is not None}
    by_entry = {
        index: (item.convention_id, service.ref_hash_of(item.beneficiary_ref), item.entered_on)
        for index, item in items.items()
        if item.pathway_id is None
    }
    if by_entry:
        found = access.pathways_by_entry(session=session, caller=caller, entries=set(by_entry.values()))
        ids |= {index: found[entry] for index, entry in by_entry.items() if entry in found}
    return ids


def record_exits(
    *, session: Session, caller: Caller, items: list[Any], atomic: bool, lines: list[int] | None = None
) -> ExitRecordsAnswer:
    """Record a batch of exits with a handful of statements whatever its size: validate every
    item, find every pathway named, decide each item, lock the pathways (in id order, so that two
    batches cannot deadlock) and check that the decisions were taken on what is locked, then
    write all the exits at once and audit the batch as one event. 422 (nothing stored) when
    `atomic` and any item failed. `lines`: each item's line in a CSV body, named in its result."""
    access.check_writer(caller)
    valid, errors = validated_items(items, ExitRecordIn)
    pathway_of = _pathway_ids(session=session, caller=caller, items=valid)
    named = set(pathway_of.values())

    def decide(rows: dict[int, Row]) -> tuple[dict[int, Decision], dict[int, dict[str, Any]]]:
        return decide_exits(
            session=session,
            exits={index: (rows.get(pathway_of.get(index)), item.exit_fields()) for index, item in valid.items()},
            missing=lambda index: _not_found(valid[index]),
        )

    # Decided on the rows as read, before the locks: from `lock_writable_pathways` to the commit
    # the batch holds its conventions' seat counters, and every prescription on them waits (in
    # issue 37's mix, deciding a thousand exits was a third of that wait). Decided again on the
    # locked rows only when a writer moved one of them in between.
    seen = access.writable_pathways(session=session, caller=caller, pathway_ids=named, columns=rules.STATE_FIELDS)
    decided, exited = decide(seen)
    pathways = access.lock_writable_pathways(
        session=session, caller=caller, pathway_ids=named, columns=rules.STATE_FIELDS
    )
    if pathways != seen:
        decided, exited = decide(pathways)
    leaving = participants.check_leaving_batch(session=session, items=valid, decided=decided)
    results: list[ExitRecordResult] = []
    counts = ExitRecordCounts()
    for index in range(len(items)):
        if index in errors:
            outcome, pathway_id, error = "error", None, errors[index]
        else:
            outcome, pathway_id, app_error = decided[index]
            error = app_error.to_problem() if app_error is not None else None
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        # Built from values already checked: no validation of a thousand results again.
        results.append(
            ExitRecordResult.model_construct(index=index, status=outcome, pathway_id=pathway_id, problem=error)
        )
    answer = batch_answer(ExitRecordsAnswer, results, counts, lines)
    if atomic and counts.error:
        raise BatchRejected(answer)
    write_exits(session=session, caller=caller, states=exited, pathways=pathways)
    participants.write_leaving_batch(session=session, leaving=leaving)
    return answer


def _not_found(item: ExitRecordIn) -> NotFound:
    if item.pathway_id is not None:
        return NotFound(f"Pathway {item.pathway_id} does not exist")
    return NotFound(f"No pathway of this beneficiary entered on {item.entered_on} in convention {item.convention_id}")
