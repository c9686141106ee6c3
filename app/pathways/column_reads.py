"""Pathways as their GET shows them, built from selected columns into JSON-ready dicts: no ORM
object, no validation. The change feed reads up to a thousand pathways a page; building them as
ORM objects then re-validating each through PathwayRead cost ten times the database's work.

What PathwayRead (app/pathways/schemas.py), service.read_models and participants.with_participants
decide is decided here again, on the row: the status, `decision` pending, the ended prescription's
day under its own name, `beneficiary_id` for admin keys only, the waiting-list position, and the
FSE `participant` (SPEC C9) for admin and operator keys only, absent otherwise. A test holds every
item equal to the resource's GET (tests/changes/test_feed_data.py), on random pathways and for
every role.
"""

from datetime import UTC
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Numeric, Text, and_, case, cast, func, literal_column, null, select
from sqlmodel import Session

from app.conventions.models import Convention
from app.core.caller import Caller, Role
from app.core.sql import ids_in
from app.esf.records import participants
from app.esf.records.models import ENTRY_FIELDS, LabourStatusOnLeaving, PathwayParticipant
from app.pathways import waiting_list, weekly_hours
from app.pathways.access import pathway_visibility
from app.pathways.models import Decision, Pathway, PathwayStatus
from app.reference.exit_reasons import SITUATION_ON_LEAVING

# PathwayRead's fields read as they are stored (beneficiary_id, hours and the fields the status
# decides are handled below).
PLAIN = (
    "id",
    "convention_id",
    "prescribed_on",
    "entered_on",
    "planned_end_on",
    "exited_on",
    "exit_reason",
    "site_id",
)
PERSON = ("birth_year", "sex", "insee_code", "territory", "household", "self_employed")
STORED = (
    *PLAIN,
    "beneficiary_id",
    "hours",
    "weekly_hours",
    "cancelled_on",
    "cancel_reason",
    "waitlisted",
    "decision",
    "decided_on",
    "appointment_on",
    "refusal_reason",
    "refusal_comment",
    "ended_as",
    "updated_at",
    *PERSON,
)
PARTICIPANT = (*ENTRY_FIELDS, "qualification_gained", "labour_status_on_leaving")
# The participant's columns under names of their own (a left join: all null without a record).
_PARTICIPANT_LABELS = tuple(f"participant_{name}" for name in PARTICIPANT)
_JOB_SEARCHING = LabourStatusOnLeaving.job_searching.value
_WAITING = (PathwayStatus.prescribed.value, PathwayStatus.waitlisted.value)


def pathway_dicts(*, session: Session, caller: Caller, condition: ColumnElement[bool]) -> list[dict[str, Any]]:
    """The pathways meeting `condition` (on Pathway, with its Convention joined) that `caller`
    reads, as the JSON of their GET (dates and datetimes left for the serialiser)."""
    with_participant = participants.may_read(caller)
    columns = [getattr(Pathway, name) for name in STORED]
    columns.append(weekly_hours.effective_sql().label("effective_weekly_hours"))
    statement = select(*columns).join(Convention, Convention.id == Pathway.convention_id)
    if with_participant:
        record = PathwayParticipant.__table__.c
        columns = [record[name].label(label) for name, label in zip(PARTICIPANT, _PARTICIPANT_LABELS, strict=True)]
        columns.append(record.pathway_id.label("participant_pathway_id"))
        statement = statement.add_columns(*columns).outerjoin(
            PathwayParticipant.__table__, record.pathway_id == Pathway.id
        )
    rows = session.execute(statement.where(condition, pathway_visibility(caller))).all()
    waitlisted = [row.id for row in rows if row.waitlisted]
    positions = waiting_list.waitlist_positions(session=session, pathway_ids=waitlisted) if waitlisted else {}
    shows_person = caller.role == Role.admin
    return [_read(row, positions, shows_person, with_participant) for row in rows]


def pathway_dicts_by_id(*, session: Session, caller: Caller, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    reads = pathway_dicts(session=session, caller=caller, condition=ids_in(Pathway.id, ids))
    return {read["id"]: read for read in reads}


def _status(row) -> str:
    # Pathway.status, on the row's columns.
    if row.cancelled_on is not None:
        return row.ended_as or PathwayStatus.cancelled.value
    if row.exited_on is not None:
        return PathwayStatus.exited.value
    if row.entered_on is not None:
        return PathwayStatus.active.value
    return PathwayStatus.waitlisted.value if row.waitlisted else PathwayStatus.prescribed.value


def _read(row, positions: dict[int, int], shows_person: bool, with_participant: bool) -> dict[str, Any]:
    status = _status(row)
    ended_as = row.ended_as is not None
    decision = row.decision
    if decision is None and status in _WAITING:
        decision = Decision.pending.value
    updated_at = row.updated_at
    if updated_at is not None:
        updated_at = updated_at.replace(tzinfo=UTC) if updated_at.tzinfo is None else updated_at.astimezone(UTC)
    read = {
        "id": row.id,
        "convention_id": row.convention_id,
        "beneficiary_id": row.beneficiary_id if shows_person else None,
        "beneficiary": {name: getattr(row, name) for name in PERSON},
        "prescribed_on": row.prescribed_on,
        "entered_on": row.entered_on,
        "planned_end_on": row.planned_end_on,
        "exited_on": row.exited_on,
        "exit_reason": row.exit_reason,
        "hours": None if row.hours is None else float(row.hours),
        "weekly_hours": None if row.weekly_hours is None else float(row.weekly_hours),
        "effective_weekly_hours": None if row.effective_weekly_hours is None else float(row.effective_weekly_hours),
        "site_id": row.site_id,
        "cancelled_on": None if ended_as else row.cancelled_on,
        "cancel_reason": None if ended_as else row.cancel_reason,
        "status": status,
        "decision": decision,
        "decided_on": row.decided_on,
        "appointment_on": row.appointment_on,
        "refusal_reason": row.refusal_reason,
        "refusal_comment": row.refusal_comment,
        "withdrawn_on": row.cancelled_on if status == PathwayStatus.withdrawn.value else None,
        "withdrawal_reason": row.cancel_reason if status == PathwayStatus.withdrawn.value else None,
        "expired_on": row.cancelled_on if status == PathwayStatus.expired.value else None,
        "waitlist_position": positions.get(row.id),
        "updated_at": updated_at,
    }
    if with_participant and participants.has_participant(
        has_record=row.participant_pathway_id is not None, exit_reason=row.exit_reason
    ):
        read["participant"] = _participant(row)
    return read


def _participant(row) -> dict[str, Any]:
    # ParticipantRead.of, on the joined columns.
    record = {name: getattr(row, label) for name, label in zip(PARTICIPANT, _PARTICIPANT_LABELS, strict=True)}
    situation = None
    if row.exit_reason is not None:
        situation = SITUATION_ON_LEAVING.get(row.exit_reason) or (record["labour_status_on_leaving"] or _JOB_SEARCHING)
    record["complete"] = all(record[name] is not None for name in ENTRY_FIELDS)
    record["situation_on_leaving"] = situation
    return record


# --- the same, written by PostgreSQL -----------------------------------------------------------
# On PostgreSQL the database writes each pathway's JSON itself (row_to_json, in the order
# and the formats pydantic writes: dates ISO, timestamps in UTC with `Z` and microseconds only
# when there are some, hours as floats): the feed's Python touches a page's pathways only to join
# their texts. Expect Pathway, Convention and the participant's table (outer) joined.


def _object(fields: dict[str, Any]):
    """A JSON object of the row's `fields`: `(SELECT row_to_json(o) FROM (SELECT … ) o)`, twice
    as fast as json_build_object, which looks up every argument's type again at every row."""
    inner = (
        select(*(value.label(name) for name, value in fields.items()))
        .correlate(Pathway.__table__, PathwayParticipant.__table__)
        .subquery("o")
    )
    return select(func.row_to_json(inner.table_valued())).select_from(inner).scalar_subquery()


def iso_utc_sql(moment):
    """A timestamp as pydantic writes it: `2026-12-02T15:31:37.123456Z`, no fraction when nil
    (one to_char: a third of the cost of formatting the parts apart)."""
    whole_second = func.date_trunc("second", moment) == moment
    layout = case(
        (whole_second, literal_column("""'YYYY-MM-DD"T"HH24:MI:SS"Z"'""")),
        else_=literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""),
    )
    return func.to_char(func.timezone("UTC", moment), layout)


def _status_sql():
    return case(
        (Pathway.cancelled_on.is_not(None), func.coalesce(Pathway.ended_as, literal_column("'cancelled'"))),
        (Pathway.exited_on.is_not(None), literal_column("'exited'")),
        (Pathway.entered_on.is_not(None), literal_column("'active'")),
        (Pathway.waitlisted, literal_column("'waitlisted'")),
        else_=literal_column("'prescribed'"),
    )


def _float_json(value):
    """A float as pydantic writes it: a whole number with its `.0` (PostgreSQL would write `20`)."""
    return case((value == func.trunc(value), func.to_json(cast(value, Numeric(20, 1)))), else_=func.to_json(value))


def _float_json_once(value):
    """`_float_json` of an expression that costs lookups (the effective weekly hours): computed
    once in a one-row subquery, not once per branch of the CASE."""
    once = select(value.label("v")).correlate(Pathway.__table__, Convention.__table__).subquery("once")
    return select(_float_json(once.c.v)).select_from(once).scalar_subquery()


def _when(condition, value):
    return case((condition, value), else_=null())


def pathway_json_sql(caller: Caller):
    """See _pathway_json_sql: built once per kind of reader (admin, operator, portal)."""
    return _pathway_json_sql(shows_person=caller.role == Role.admin, with_participant=participants.may_read(caller))


@lru_cache
def _pathway_json_sql(*, shows_person: bool, with_participant: bool):
    """(a LATERAL subquery, the JSON of its row): each joined pathway as `caller` reads it
    (what `_read` builds), but for waitlisted ones: their place on the list is no column, and a
    subquery per row would make the plan's estimate large enough to have it JIT-compiled, which
    costs more than the page. The feed builds those few with pathway_dicts. `row_to_json` of
    the subquery's row, several times faster than one json_build_object of every field."""
    status = _status_sql()
    ended_as = Pathway.ended_as.is_not(None)
    waiting = status.in_(_WAITING)
    fields = {
        "id": Pathway.id,
        "convention_id": Pathway.convention_id,
        "beneficiary_id": Pathway.beneficiary_id if shows_person else null(),
        "beneficiary": _object({name: getattr(Pathway, name) for name in PERSON}),
        **{name: getattr(Pathway, name) for name in PLAIN[2:]},
        "hours": _float_json(Pathway.hours),
        "weekly_hours": _float_json(Pathway.weekly_hours),
        "effective_weekly_hours": _float_json_once(weekly_hours.effective_sql()),
        "cancelled_on": _when(~ended_as, Pathway.cancelled_on),
        "cancel_reason": _when(~ended_as, Pathway.cancel_reason),
        "status": status,
        "decision": func.coalesce(Pathway.decision, _when(waiting, literal_column("'pending'"))),
        "decided_on": Pathway.decided_on,
        "appointment_on": Pathway.appointment_on,
        "refusal_reason": Pathway.refusal_reason,
        "refusal_comment": Pathway.refusal_comment,
        "withdrawn_on": _when(Pathway.ended_as == "withdrawn", Pathway.cancelled_on),
        "withdrawal_reason": _when(Pathway.ended_as == "withdrawn", Pathway.cancel_reason),
        "expired_on": _when(Pathway.ended_as == "expired", Pathway.cancelled_on),
        # Null: a waitlisted pathway's place is not written here (see pathway_json_sql's doc).
        "waitlist_position": null(),
        "updated_at": iso_utc_sql(Pathway.updated_at),
    }
    fields = {name: fields[name] for name in FIELDS}
    if with_participant:
        shown = participants.has_participant(
            has_record=PathwayParticipant.__table__.c.pathway_id.is_not(None), exit_reason=Pathway.exit_reason
        )
        fields["participant"] = _when(shown, _participant_sql())
    # No FROM of its own: the columns are those of the row it is joined to.
    data = (
        select(*(value.label(name) for name, value in fields.items()))
        .correlate(Pathway.__table__, PathwayParticipant.__table__, Convention.__table__)
        .lateral("pathway_data")
    )
    data_json = cast(func.row_to_json(data.table_valued()), Text)
    if with_participant:
        # No `participant` key where `_read` leaves it out: it is the row's last
        # field, which row_to_json writes `,"participant":null}` (no spaces), cut off as text.
        data_json = case(
            (shown, data_json),
            else_=func.left(data_json, -len(_NO_PARTICIPANT)).concat(literal_column("'}'")),
        )
    return data, data_json


_NO_PARTICIPANT = ',"participant":null}'


def _participant_sql():
    record = PathwayParticipant.__table__.c
    by_reason = case(
        *((Pathway.exit_reason == reason, literal_column(f"'{situation}'")) for reason, situation in _SITUATIONS),
        else_=null(),
    )
    situation = _when(
        Pathway.exit_reason.is_not(None),
        func.coalesce(by_reason, record.labour_status_on_leaving, literal_column(f"'{_JOB_SEARCHING}'")),
    )
    complete = and_(*(record[name].is_not(None) for name in ENTRY_FIELDS))
    return _object(
        {name: record[name] for name in PARTICIPANT} | {"complete": complete, "situation_on_leaving": situation}
    )


# PathwayRead's fields in its order (`participant` apart), which `_read` follows too; a test holds them equal.
FIELDS = (
    "id",
    "convention_id",
    "beneficiary_id",
    "beneficiary",
    "prescribed_on",
    "entered_on",
    "planned_end_on",
    "exited_on",
    "exit_reason",
    "hours",
    "weekly_hours",
    "effective_weekly_hours",
    "site_id",
    "cancelled_on",
    "cancel_reason",
    "status",
    "decision",
    "decided_on",
    "appointment_on",
    "refusal_reason",
    "refusal_comment",
    "withdrawn_on",
    "withdrawal_reason",
    "expired_on",
    "waitlist_position",
    "updated_at",
)
_SITUATIONS = tuple((reason, situation) for reason, situation in SITUATION_ON_LEAVING.items() if situation)
