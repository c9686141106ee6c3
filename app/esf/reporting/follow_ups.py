"""POST /follow-ups: the participants' situation six months after leaving (SPEC C9), in batches
with the guarantees of exit records (app/pathways/batches.py): a JSON list or CSV, up to
`max_batch_items` items, a result per item (created / unchanged / error with its problem) and
counts; the same follow-up again is `unchanged`, another one for a pathway that has one is an
error (409), never an overwrite; `atomic=true`: all or nothing (422 with every item's result);
an operator key reaches its own conventions' pathways only (others are per-item 404s).

Set-based, a handful of statements whatever the batch's size: the pathways named are read and
locked in one query (in id order, so two batches cannot deadlock), their existing follow-ups in
another, the consolidated years once, and the new follow-ups inserted in one statement; the batch
is joined as a table of array parameters (app.core.sql.rows_table), so the SQL is the same
whatever the batch's size.
"""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, exists, insert, literal, not_, select
from sqlmodel import Session

from app.audit.service import record
from app.conventions.models import Convention
from app.core.caller import Caller
from app.core.errors import AppError, Conflict, InvalidInput, NotFound, PeriodConsolidated
from app.core.pagination import Page, PageParams, paginate_rows
from app.core.sql import ids_table, rows_table
from app.core.time import today, utcnow
from app.esf.records.models import FOLLOW_UP_WINDOW, FollowUp
from app.esf.reporting.schemas import FollowUpDue, FollowUpIn, FollowUpsAnswer
from app.pathways import access
from app.pathways.batches import BatchRejected, batch_answer, validated_items
from app.pathways.models import Pathway
from app.pathways.schemas import ExitRecordCounts, ExitRecordResult
from app.periods.service import closed_years

AUDIT_ENTITY = "follow_ups"
EARLIEST, LATEST = (timedelta(days=days) for days in FOLLOW_UP_WINDOW)


def _same(stored: dict[str, Any], item: FollowUpIn) -> bool:
    return (stored["observed_on"], stored["situation"], stored["improved_situation"]) == (
        item.observed_on,
        item.situation.value,
        item.improved_situation,
    )


def _decide(*, item: FollowUpIn, pathway, stored: dict[str, Any] | None, closed: set[int]) -> str:
    """'created' or 'unchanged', or raises the item's problem."""
    if pathway is None:
        raise NotFound(f"Pathway {item.pathway_id} does not exist")
    if pathway.exited_on is None:
        raise Conflict(f"Pathway {pathway.id} has no exit: a follow-up comes after leaving")
    if stored is not None:
        if _same(stored, item):
            return "unchanged"
        raise Conflict(f"Pathway {pathway.id} already has a follow-up ({stored['observed_on']}, {stored['situation']})")
    first, last = pathway.exited_on + EARLIEST, pathway.exited_on + LATEST
    if not first <= item.observed_on <= last:
        raise InvalidInput(
            f"observed_on must lie {FOLLOW_UP_WINDOW[0]} to {FOLLOW_UP_WINDOW[1]} days after the exit "
            f"({first} to {last})",
            loc=["body", "observed_on"],
        )
    if item.observed_on > today():
        raise InvalidInput("observed_on cannot be in the future", loc=["body", "observed_on"])
    if pathway.exited_on.year in closed:
        raise PeriodConsolidated(f"{pathway.exited_on.year} consolidated: reopen the period first")
    return "created"


def record_follow_ups(
    *, session: Session, caller: Caller, items: list[Any], atomic: bool, lines: list[int] | None = None
) -> FollowUpsAnswer:
    """Record a batch of follow-ups (`lines`: each item's line in a CSV body, named in its result)."""
    access.check_writer(caller)
    valid, errors = validated_items(items, FollowUpIn)
    named = {item.pathway_id for item in valid.values()}
    pathways, stored = {}, {}
    if named:
        named_table = ids_table(session, named)
        pathways = {
            row.id: row
            for row in session.execute(
                select(Pathway.id, Pathway.convention_id, Pathway.exited_on)
                .join(named_table, named_table.c.id == Pathway.id)
                .join(Convention, Convention.id == Pathway.convention_id)
                .where(access.pathway_visibility(caller))
                .order_by(Pathway.id)
                .with_for_update(of=Pathway)
            )
        }
    if pathways:
        found = ids_table(session, pathways)
        stored = {
            row.pathway_id: row._asdict()
            for row in session.execute(
                select(FollowUp.pathway_id, FollowUp.observed_on, FollowUp.situation, FollowUp.improved_situation).join(
                    found, found.c.id == FollowUp.pathway_id
                )
            )
        }
    closed = closed_years(
        session=session, years={row.exited_on.year for row in pathways.values() if row.exited_on is not None}
    )
    results: list[ExitRecordResult] = []
    counts = ExitRecordCounts()
    new: dict[int, dict[str, Any]] = {}
    for index in range(len(items)):
        pathway_id, error = None, errors.get(index)
        outcome = "error"
        if error is None:
            item = valid[index]
            pathway = pathways.get(item.pathway_id)
            pathway_id = pathway.id if pathway is not None else None
            try:
                outcome = _decide(item=item, pathway=pathway, stored=stored.get(item.pathway_id), closed=closed)
            except AppError as app_error:
                error = app_error.to_problem()
            if outcome == "created":
                row = {
                    "pathway_id": item.pathway_id,
                    "observed_on": item.observed_on,
                    "situation": item.situation.value,
                    "improved_situation": item.improved_situation,
                }
                stored[item.pathway_id] = row  # a second item for the same pathway sees this one
                new[item.pathway_id] = row
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        results.append(
            ExitRecordResult.model_construct(index=index, status=outcome, pathway_id=pathway_id, problem=error)
        )
    answer = batch_answer(FollowUpsAnswer, results, counts, lines)
    if atomic and counts.error:
        raise BatchRejected(answer)
    if new:
        _insert(session=session, caller=caller, rows=[row for _id, row in sorted(new.items())])
        record(
            session=session,
            caller=caller,
            entity=AUDIT_ENTITY,
            entity_id=f"{len(new)} pathways",
            action="create",
            fields=[f"pathway:{pathway_id}" for pathway_id in sorted(new)],
        )
        session.flush()
    return answer


def _insert(*, session: Session, caller: Caller, rows: list[dict[str, Any]]) -> None:
    """The batch's new follow-ups in one INSERT … SELECT from its rows as a table (rows_table: one
    array parameter a column on PostgreSQL, where an executemany would send one multi-row VALUES
    of six parameters a row)."""
    table = FollowUp.__table__
    given = ("pathway_id", "observed_on", "situation", "improved_situation")
    values = rows_table(
        session,
        "follow_ups",
        [(name, table.c[name].type) for name in given],
        [[row[name] for name in given] for row in rows],
    )
    session.execute(
        insert(table).from_select(
            [*given, "created_by_key_id", "created_at"],
            select(
                *(values.c[name] for name in given),
                literal(caller.key_id, table.c.created_by_key_id.type),
                literal(utcnow(), table.c.created_at.type),
            ),
        )
    )


def due_follow_ups(*, session: Session, caller: Caller, on: date, params: PageParams) -> Page[FollowUpDue]:
    """The caller's exited pathways whose follow-up window contains `on` and that have none yet,
    the earliest exits first."""
    access.check_writer(caller)
    statement = (
        select(Pathway.id, Pathway.convention_id, Pathway.exited_on)
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(
            access.pathway_visibility(caller),
            and_(Pathway.exited_on >= on - LATEST, Pathway.exited_on <= on - EARLIEST),
            not_(exists().where(FollowUp.pathway_id == Pathway.id)),
        )
        .order_by(Pathway.exited_on, Pathway.id)
    )
    rows, total = paginate_rows(session, statement, params)
    items = [
        FollowUpDue(
            pathway_id=row.id,
            convention_id=row.convention_id,
            exited_on=row.exited_on,
            window_from=row.exited_on + EARLIEST,
            window_to=row.exited_on + LATEST,
        )
        for row in rows
    ]
    return Page(items=items, total=total, page=params.page, size=params.size)
