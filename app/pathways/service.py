"""Pathways and their beneficiaries: the rules every write must pass.

A pathway's dates feed the indicators, so each write checks, in this order: the dates among
themselves and against today; the convention (status, dates, sites); the consolidated years it
would change; and, with the beneficiary's row locked, that the person has no other open pathway
nor an overlapping stay in the same convention. Locking the beneficiary first is what keeps two
concurrent requests from both creating overlapping pathways.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, not_, or_, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, select

from app.audit.service import record
from app.catalogue.models import Action
from app.conventions.models import Convention, ConventionSite, ConventionStatus
from app.core.caller import Caller, Role
from app.core.changes import FEED_NOTED, note_change
from app.core.config import get_settings
from app.core.db import is_postgres
from app.core.errors import AppError, Conflict, ConventionFull, InvalidInput, PeriodConsolidated
from app.core.etag import check_if_match
from app.core.pagination import Page, PageParams, paginate
from app.core.security import pseudonymise
from app.core.time import today, utcnow
from app.pathways import access, seats
from app.pathways.models import Beneficiary, EndedAs, Pathway, PathwayStatus
from app.pathways.models import Decision as Answer
from app.pathways.schemas import (
    AcceptIn,
    BeneficiaryFields,
    CancelIn,
    EntryIn,
    ExitIn,
    PathwayCreate,
    PathwayRead,
    PathwayUpdate,
    RefuseIn,
    WithdrawIn,
)
from app.periods.service import closed_years, ensure_open

AUDIT_PATHWAY = "pathway"
AUDIT_BENEFICIARY = "beneficiary"
# The entity id of an audited list: many pathways.
READ_MANY = "*"

# The fields of a pathway an indicator reads: changing one changes some year's figures.
FIGURE_FIELDS = (
    "prescribed_on",
    "entered_on",
    "exited_on",
    "exit_reason",
    "hours",
    "cancelled_on",
    "decision",
    "decided_on",
    "ended_as",
)
# Every field a write may set, i.e. the state the rules are checked on.
STATE_FIELDS = (
    *FIGURE_FIELDS,
    "planned_end_on",
    "site_id",
    "cancel_reason",
    "waitlisted",
    "appointment_on",
    "refusal_reason",
    "refusal_comment",
)


def read_models(*, session: Session, pathways: list[Pathway], caller: Caller | None) -> list[PathwayRead]:
    """Read models of pathways as `caller` may see them, with their places on the waiting lists
    in one query. `beneficiary_id` is shown to admin only (null for anyone else, and for no
    caller): the service's id for a person is shared by every tenant, so showing it
    would tell an operator or a portal whether a file number it posts already has a pathway
    elsewhere, and let tenants match their persons with each other's."""
    positions = seats.waitlist_positions(
        session=session, pathway_ids=[pathway.id for pathway in pathways if pathway.waitlisted]
    )
    shows_person = caller is not None and caller.role == Role.admin
    return [
        PathwayRead.model_validate(pathway).model_copy(
            update={
                "waitlist_position": positions.get(pathway.id),
                "beneficiary_id": pathway.beneficiary_id if shows_person else None,
            }
        )
        for pathway in pathways
    ]


def read_model(*, session: Session, pathway: Pathway, caller: Caller | None) -> PathwayRead:
    return read_models(session=session, pathways=[pathway], caller=caller)[0]


def ref_hash_of(beneficiary_ref: str) -> str:
    return pseudonymise(beneficiary_ref, secret=get_settings().secret_key)


# --- reading -----------------------------------------------------------------------------------


ENDED_AS_STATUSES = (PathwayStatus.refused, PathwayStatus.withdrawn, PathwayStatus.expired)
# The statuses of a pathway that ended before any entry (its `cancelled_on` is set).
ENDED_BEFORE_ENTRY = (PathwayStatus.cancelled, *ENDED_AS_STATUSES)


def _status_condition(status: PathwayStatus) -> ColumnElement[bool]:
    """The SQL twin of `Pathway.status`."""
    not_cancelled = Pathway.cancelled_on.is_(None)
    if status == PathwayStatus.cancelled:
        return and_(Pathway.cancelled_on.is_not(None), Pathway.ended_as.is_(None))
    if status in ENDED_AS_STATUSES:
        return Pathway.ended_as == status.value
    if status == PathwayStatus.exited:
        return and_(not_cancelled, Pathway.exited_on.is_not(None))
    if status == PathwayStatus.active:
        return and_(not_cancelled, Pathway.exited_on.is_(None), Pathway.entered_on.is_not(None))
    waiting = Pathway.waitlisted if status == PathwayStatus.waitlisted else not_(Pathway.waitlisted)
    return and_(not_cancelled, Pathway.exited_on.is_(None), Pathway.entered_on.is_(None), waiting)


def list_pathways(
    *,
    session: Session,
    caller: Caller,
    params: PageParams,
    convention_id: int | None = None,
    action: str | None = None,
    operator_id: int | None = None,
    status: PathwayStatus | None = None,
    active_on: date | None = None,
    updated_since: datetime | None = None,
) -> Page[PathwayRead]:
    statement = (
        select(Pathway)
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(access.pathway_visibility(caller))
        .order_by(Pathway.id)
    )
    if convention_id is not None:
        statement = statement.where(Pathway.convention_id == convention_id)
    if action is not None:
        statement = statement.where(
            Convention.action_id == select(Action.id).where(Action.code == action).scalar_subquery()
        )
    if operator_id is not None:
        statement = statement.where(Convention.operator_id == operator_id)
    if status is not None:
        statement = statement.where(_status_condition(status))
    if active_on is not None:
        statement = statement.where(
            Pathway.cancelled_on.is_(None),
            Pathway.entered_on <= active_on,
            or_(Pathway.exited_on.is_(None), Pathway.exited_on >= active_on),
        )
    if updated_since is not None:
        statement = statement.where(Pathway.updated_at >= updated_since)
    rows, total = paginate(session, statement, params)
    filters = {
        "convention": convention_id,
        "action": action,
        "operator": operator_id,
        "status": status,
        "active_on": active_on,
        "updated_since": updated_since,
    }
    _record_read(
        session=session,
        caller=caller,
        entity_id=READ_MANY,
        action="list",
        details={
            "filters": {name: value for name, value in filters.items() if value is not None},
            "page": params.page,
            "size": params.size,
            "rows": len(rows),
            "total": total,
        },
    )
    return Page.of(read_models(session=session, pathways=rows, caller=caller), total, params)


def get_pathway(*, session: Session, caller: Caller, pathway_id: int) -> Pathway:
    pathway = access.visible_pathway(session=session, caller=caller, pathway_id=pathway_id)
    _record_read(session=session, caller=caller, entity_id=pathway.id, action="read", details={"rows": 1})
    return pathway


def _record_read(*, session: Session, caller: Caller, entity_id: object, action: str, details: dict) -> None:
    """Reads of personal data are audited: who, what was asked, how many rows; never the data."""
    record(session=session, caller=caller, entity=AUDIT_PATHWAY, entity_id=entity_id, action=action, details=details)
    session.flush()


# --- rules -------------------------------------------------------------------------------------


def _state(pathway: Pathway | None) -> dict[str, Any]:
    if pathway is None:
        return dict.fromkeys(STATE_FIELDS)
    return {name: getattr(pathway, name) for name in STATE_FIELDS}


def _check_dates(state: dict[str, Any]) -> None:
    """Rules among the dates themselves and against today (422)."""
    now = today()
    for name in ("prescribed_on", "entered_on", "exited_on", "cancelled_on", "decided_on"):
        if state[name] is not None and state[name] > now:
            raise InvalidInput(f"{name} cannot be in the future", loc=["body", name])
    entered_on, exited_on = state["entered_on"], state["exited_on"]
    if entered_on is not None and entered_on < state["prescribed_on"]:
        raise InvalidInput("entered_on cannot be before prescribed_on", loc=["body", "entered_on"])
    if exited_on is not None and entered_on is None:
        raise InvalidInput("An exit needs an entry: entered_on is missing", loc=["body", "entered_on"])
    if exited_on is not None and exited_on < entered_on:
        raise InvalidInput("exited_on cannot be before entered_on", loc=["body", "exited_on"])
    if exited_on is not None and state["exit_reason"] is None:
        raise InvalidInput("An exit needs an exit_reason", loc=["body", "exit_reason"])
    if exited_on is None and state["exit_reason"] is not None:
        raise InvalidInput("exit_reason needs exited_on", loc=["body", "exited_on"])
    planned_end_on = state["planned_end_on"]
    if planned_end_on is not None and planned_end_on < (entered_on or state["prescribed_on"]):
        raise InvalidInput(
            "planned_end_on cannot be before the entry (or the prescription)", loc=["body", "planned_end_on"]
        )
    if state["cancelled_on"] is not None:
        if entered_on is not None:
            raise Conflict("A cancelled prescription cannot have an entry")
        if state["cancelled_on"] < state["prescribed_on"]:
            raise InvalidInput("cancelled_on cannot be before prescribed_on", loc=["body", "cancelled_on"])
    if state["decided_on"] is not None and state["decided_on"] < state["prescribed_on"]:
        raise InvalidInput("The decision cannot come before prescribed_on", loc=["body", "prescribed_on"])


def _check_convention_fit(*, session: Session, state: dict[str, Any], convention: Convention) -> None:
    """The entry within the convention's dates, the site among its sites (422)."""
    entered_on = state["entered_on"]
    if entered_on is not None and not convention.start_on <= entered_on <= convention.end_on:
        raise InvalidInput(
            f"entered_on must lie within the convention's dates ({convention.start_on} to {convention.end_on})",
            loc=["body", "entered_on"],
        )
    site_id = state["site_id"]
    if site_id is not None and session.get(ConventionSite, (convention.id, site_id)) is None:
        raise InvalidInput(f"Site {site_id} is not a site of convention {convention.id}", loc=["body", "site_id"])


def _years_between(first: date, second: date) -> set[int]:
    low, high = sorted((first, second))
    return set(range(low.year, high.year + 1))


def _stay(state: dict[str, Any]) -> tuple[date, date] | None:
    if state["entered_on"] is None or state["cancelled_on"] is not None:
        return None
    return state["entered_on"], state["exited_on"] or today()


def touched_years(before: dict[str, Any], after: dict[str, Any]) -> set[int]:
    """The years whose figures a write from `before` to `after` would change.

    Each changed date's old and new years; and, since a stay counts every day it covers
    (persons present, occupancy, hours), the years between a stay's old and new bounds.
    """
    years: set[int] = set()
    for name in ("prescribed_on", "entered_on", "exited_on", "cancelled_on", "decided_on"):
        if before[name] != after[name]:
            years |= {day.year for day in (before[name], after[name]) if day is not None}
    if before["ended_as"] != after["ended_as"]:
        # Withdrawals and expiries count on the day they ended.
        years |= {state["cancelled_on"].year for state in (before, after) if state["cancelled_on"] is not None}
    if before["cancelled_on"] != after["cancelled_on"]:
        years.add(after["prescribed_on"].year)  # a cancelled prescription may leave the counts
    if before["exit_reason"] != after["exit_reason"] and after["exited_on"] is not None:
        years.add(after["exited_on"].year)
    old_stay, new_stay = _stay(before), _stay(after)
    if old_stay != new_stay:
        if old_stay is None or new_stay is None:
            years |= _years_between(*(old_stay or new_stay))
        else:
            for old_bound, new_bound in zip(old_stay, new_stay):
                if old_bound != new_bound:
                    years |= _years_between(old_bound, new_bound)
    if before["hours"] != after["hours"]:
        for stay in (old_stay, new_stay):
            if stay is not None:
                years |= _years_between(*stay)
    return years


def _lock_beneficiary(session: Session, *condition) -> Beneficiary | None:
    statement = select(Beneficiary).where(*condition).with_for_update().execution_options(populate_existing=True)
    return session.exec(statement).first()


def _check_no_overlap(
    *,
    session: Session,
    caller: Caller,
    state: dict[str, Any],
    convention_id: int,
    person_key: int,
    pathway_id: int | None,
) -> None:
    """409 when the person already has, in this convention, an open pathway while this one is
    open, or a stay sharing a day with this one's. Call with the beneficiary row locked.

    The person is their person key, which a pathway keeps when retention detaches it: a
    correction of an old pathway is still checked against the same person's others."""
    if state["cancelled_on"] is not None:
        return
    clashes = []
    if state["exited_on"] is None:
        clashes.append(Pathway.exited_on.is_(None))
    if state["entered_on"] is not None:
        shares_a_day = and_(
            Pathway.entered_on.is_not(None),
            or_(Pathway.exited_on.is_(None), Pathway.exited_on >= state["entered_on"]),
        )
        if state["exited_on"] is not None:
            shares_a_day = and_(shares_a_day, Pathway.entered_on <= state["exited_on"])
        clashes.append(shares_a_day)
    statement = select(Pathway.id).where(
        Pathway.convention_id == convention_id,
        Pathway.person_key == person_key,
        Pathway.cancelled_on.is_(None),
        or_(*clashes),
    )
    if pathway_id is not None:
        statement = statement.where(Pathway.id != pathway_id)
    other_id = session.exec(statement.order_by(Pathway.id).limit(1)).first()
    if other_id is not None:
        # Name the other pathway only to a caller who may read it (another portal's prescription
        # stays anonymous: a 409 must not reveal what a 404 would hide).
        named = f"pathway {other_id}" if access.may_read(session=session, caller=caller, pathway_id=other_id) else None
        raise Conflict(
            f"This beneficiary already has {named or 'a pathway'} in convention {convention_id}, "
            "open at the same time or with a stay overlapping this one"
        )


def _apply(
    *,
    session: Session,
    caller: Caller,
    pathway: Pathway,
    after: dict[str, Any],
    action: str,
    characteristics: dict[str, Any] | None = None,
) -> list[str]:
    """Store `after` (and changed characteristics) on the pathway; the names written, audited."""
    changes = {name: after[name] for name in STATE_FIELDS if getattr(pathway, name) != after[name]}
    changes |= characteristics or {}
    if not changes:
        return []
    for name, value in changes.items():
        setattr(pathway, name, value)
    session.add(pathway)
    written = [f"beneficiary.{name}" if name in (characteristics or {}) else name for name in changes]
    record(session=session, caller=caller, entity=AUDIT_PATHWAY, entity_id=pathway.id, action=action, fields=written)
    session.flush()
    return written


# --- beneficiaries -----------------------------------------------------------------------------


def person_for(*, session: Session, caller: Caller, beneficiary_ref: str) -> Beneficiary:
    """The person of this file number (a pseudonym only), created if new, its row locked until
    commit: the lock serialises two requests writing pathways of the same person."""
    ref_hash = ref_hash_of(beneficiary_ref)
    beneficiary = _lock_beneficiary(session, Beneficiary.ref_hash == ref_hash)
    if beneficiary is not None:
        return beneficiary
    try:
        with session.begin_nested():
            beneficiary = Beneficiary(ref_hash=ref_hash)
            session.add(beneficiary)
            session.flush()
    except IntegrityError:
        # Another request created the same person meanwhile: wait for its row instead.
        return _lock_beneficiary(session, Beneficiary.ref_hash == ref_hash)
    record(
        session=session,
        caller=caller,
        entity=AUDIT_BENEFICIARY,
        entity_id=beneficiary.id,
        action="create",
        fields=["ref_hash"],
    )
    return beneficiary


def _characteristics_changes(pathway: Pathway, fields: BeneficiaryFields | None) -> dict[str, Any]:
    """The characteristics of this pathway that `fields` changes (given fields overwrite, absent ones stay)."""
    given = fields.model_dump(exclude_unset=True) if fields is not None else {}
    return {name: value for name, value in given.items() if getattr(pathway, name) != value}


# --- writes ------------------------------------------------------------------------------------


def _convention_for_new_pathway(*, session: Session, caller: Caller, body: PathwayCreate) -> Convention:
    # Locked shared: its status and dates cannot change while it takes the pathway.
    convention = session.get(Convention, body.convention_id, with_for_update={"read": True}, populate_existing=True)
    if convention is None:
        raise InvalidInput(f"Convention {body.convention_id} does not exist", loc=["body", "convention_id"])
    access.check_can_create_on(caller=caller, convention=convention, stay_fields=body.stay_fields_given())
    if convention.status in (ConventionStatus.draft, ConventionStatus.cancelled):
        raise InvalidInput(
            f"Convention {convention.id} is {convention.status}: it takes no pathways", loc=["body", "convention_id"]
        )
    return convention


def _seat_for_prescription(*, session: Session, caller: Caller, convention: Convention, if_full: str) -> bool:
    """Whether a new prescription gets a seat now (False: it goes on the waiting list), with the
    convention's seats locked so that concurrent prescriptions cannot take the same last seat. 409
    when there is none and the client asked to be refused rather than waitlisted."""
    # Seats may have been added since (more places): those waiting first, in order of arrival.
    seats.promote_waitlisted(session=session, caller=caller, convention_id=convention.id)
    now = seats.lock_seats(session, convention.id)
    if now.free and not now.waitlisted:
        return True
    if if_full == "refuse":
        raise ConventionFull(
            f"Convention {convention.id} has no free seat today ({now.capacity} seat{'' if now.capacity == 1 else 's'},"
            f" {now.occupied} occupied, {now.reserved} reserved, {now.waitlisted} waiting)"
        )
    return False


def create_pathway(*, session: Session, caller: Caller, body: PathwayCreate) -> Pathway:
    after = _state(None) | body.model_dump(include=set(STATE_FIELDS))
    _check_dates(after)
    convention = _convention_for_new_pathway(session=session, caller=caller, body=body)
    # Its seats before the person's row: the lock order of every pathway write (seats.lock_seats_of).
    seats.lock_seats_of(session, [convention.id])
    _check_convention_fit(session=session, state=after, convention=convention)
    ensure_open(session=session, years=touched_years(_state(None), after))
    beneficiary = person_for(session=session, caller=caller, beneficiary_ref=body.beneficiary_ref)
    _check_no_overlap(
        session=session,
        caller=caller,
        state=after,
        convention_id=convention.id,
        person_key=beneficiary.id,
        pathway_id=None,
    )
    waitlisted = after["entered_on"] is None and not _seat_for_prescription(
        session=session, caller=caller, convention=convention, if_full=body.if_full
    )
    characteristics = body.beneficiary.model_dump(exclude_none=True) if body.beneficiary is not None else {}
    pathway = Pathway(
        convention_id=convention.id,
        beneficiary_id=beneficiary.id,
        person_key=beneficiary.id,
        created_by_key_id=caller.key_id,
        **{name: value for name, value in after.items() if value is not None},
        **characteristics,
        waitlisted=waitlisted,
    )
    session.add(pathway)
    session.flush()
    written = [
        "convention_id",
        "beneficiary_id",
        *(name for name, value in after.items() if value is not None),
        *(f"beneficiary.{name}" for name in characteristics),
        *(["waitlisted"] if waitlisted else []),
    ]
    record(session=session, caller=caller, entity=AUDIT_PATHWAY, entity_id=pathway.id, action="create", fields=written)
    session.flush()
    return pathway


def _write(
    *,
    session: Session,
    caller: Caller,
    pathway: Pathway,
    after: dict[str, Any],
    action: str,
    characteristics: dict[str, Any] | None = None,
) -> None:
    """Check `after` against every rule, then store it."""
    before = _state(pathway)
    # An entry or a cancellation takes the pathway off the waiting list.
    after = after | {
        "waitlisted": after["waitlisted"] and after["entered_on"] is None and after["cancelled_on"] is None
    }
    _check_dates(after)
    convention = session.get(Convention, pathway.convention_id)
    _check_convention_fit(session=session, state=after, convention=convention)
    ensure_open(session=session, years=touched_years(before, after))
    if any(before[name] != after[name] for name in ("entered_on", "exited_on", "cancelled_on")):
        if pathway.beneficiary_id is not None:  # a pathway detached by retention has no row to lock
            _lock_beneficiary(session, Beneficiary.id == pathway.beneficiary_id)
        _check_no_overlap(
            session=session,
            caller=caller,
            state=after,
            convention_id=pathway.convention_id,
            person_key=pathway.person_key,
            pathway_id=pathway.id,
        )
    _apply(session=session, caller=caller, pathway=pathway, after=after, action=action, characteristics=characteristics)
    # Any change of dates may free a seat (an exit, a cancellation, a corrected entry).
    seats.promote_waitlisted(session=session, caller=caller, convention_id=pathway.convention_id)


def update_pathway(
    *, session: Session, caller: Caller, pathway_id: int, body: PathwayUpdate, if_match: str | None
) -> Pathway:
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    check_if_match(if_match, read_model(session=session, pathway=pathway, caller=caller))
    after = _state(pathway) | body.model_dump(exclude_unset=True, exclude={"beneficiary"})
    characteristics = _characteristics_changes(pathway, body.beneficiary)
    if "territory" in characteristics and (stay := _stay(after)) is not None:
        # Indicators by territory count this pathway's stay in its territory: moving it changes
        # the figures of every year the stay covers.
        ensure_open(session=session, years=_years_between(*stay))
    _write(
        session=session, caller=caller, pathway=pathway, after=after, action="update", characteristics=characteristics
    )
    return pathway


def enter(*, session: Session, caller: Caller, pathway_id: int, body: EntryIn) -> Pathway:
    """Record the entry; the same entry again changes nothing."""
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    if pathway.status in (*ENDED_BEFORE_ENTRY, PathwayStatus.exited):
        raise Conflict(f"Pathway {pathway.id} is {pathway.status}: it cannot be entered")
    given = body.model_dump(exclude_none=True)
    if pathway.entered_on is not None:
        if all(getattr(pathway, name) == value for name, value in given.items()):
            return pathway
        raise Conflict(
            f"Pathway {pathway.id} was already entered on {pathway.entered_on}; PATCH it to correct the entry"
        )
    _write(session=session, caller=caller, pathway=pathway, after=_state(pathway) | given, action="entry")
    return pathway


def record_exit(*, session: Session, caller: Caller, pathway: Pathway, body: ExitIn) -> bool:
    """Record the exit of a pathway locked by the caller; False when this very exit was already
    recorded, 409 when another one was."""
    if pathway.status in ENDED_BEFORE_ENTRY:
        raise Conflict(f"Pathway {pathway.id} is {pathway.status}: it cannot be exited")
    if pathway.exited_on is not None:
        same = (pathway.exited_on, pathway.exit_reason) == (body.exited_on, body.exit_reason) and (
            body.hours is None or body.hours == pathway.hours
        )
        if same:
            return False
        raise Conflict(
            f"Pathway {pathway.id} already has an exit ({pathway.exited_on}, {pathway.exit_reason}); "
            "PATCH it to correct the exit"
        )
    after = _state(pathway) | body.model_dump(exclude_none=True)
    _check_dates(after)
    # Closing an open pathway only shortens its stay: no overlap can appear, no need to look.
    ensure_open(session=session, years=touched_years(_state(pathway), after))
    _apply(session=session, caller=caller, pathway=pathway, after=after, action="exit")
    seats.promote_waitlisted(session=session, caller=caller, convention_id=pathway.convention_id)
    return True


def exit_pathway(*, session: Session, caller: Caller, pathway_id: int, body: ExitIn) -> Pathway:
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    record_exit(session=session, caller=caller, pathway=pathway, body=body)
    return pathway


def cancel(*, session: Session, caller: Caller, pathway_id: int, body: CancelIn) -> Pathway:
    """Cancel a prescription that never led to an entry; the same cancellation again changes nothing."""
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    if pathway.entered_on is not None:
        raise Conflict(f"Pathway {pathway.id} was entered: it cannot be cancelled (record its exit instead)")
    if pathway.ended_as is not None:
        raise Conflict(f"Pathway {pathway.id} is {pathway.status}: it cannot be cancelled")
    if pathway.cancelled_on is not None:
        if body.cancel_reason == pathway.cancel_reason and body.cancelled_on in (None, pathway.cancelled_on):
            return pathway
        raise Conflict(f"Pathway {pathway.id} was already cancelled on {pathway.cancelled_on}")
    after = _state(pathway) | {"cancelled_on": body.cancelled_on or today(), "cancel_reason": body.cancel_reason}
    _write(session=session, caller=caller, pathway=pathway, after=after, action="cancel")
    return pathway


# --- answers to a prescription (SPEC C7) -------------------------------------------------------


def _check_answer_day(pathway: Pathway, day: date, name: str) -> None:
    if day > today():
        raise InvalidInput(f"{name} cannot be in the future", loc=["body", name])
    if day < pathway.prescribed_on:
        raise InvalidInput(f"{name} cannot be before prescribed_on ({pathway.prescribed_on})", loc=["body", name])


def _check_still_answerable(pathway: Pathway, what: str) -> None:
    """409 unless the pathway is a prescription still waiting for its entry."""
    if pathway.status not in (PathwayStatus.prescribed, PathwayStatus.waitlisted):
        raise Conflict(f"Pathway {pathway.id} is {pathway.status}: it cannot be {what}")


def accept(*, session: Session, caller: Caller, pathway_id: int, body: AcceptIn) -> Pathway:
    """The convention's operator accepts a prescription (an admin may too); the same acceptance
    again changes nothing, a refusal recorded before is a 409. No seat moves: the prescription
    already holds one, or keeps its place on the waiting list."""
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    if pathway.decision == Answer.accepted and pathway.decided_on == body.accepted_on:
        if body.appointment_on in (None, pathway.appointment_on):
            return pathway
    if pathway.decision is not None:
        raise Conflict(f"Pathway {pathway.id} was already {pathway.decision} on {pathway.decided_on}")
    _check_still_answerable(pathway, "accepted")
    _check_answer_day(pathway, body.accepted_on, "accepted_on")
    if body.appointment_on is not None and body.appointment_on < body.accepted_on:
        raise InvalidInput("appointment_on cannot be before accepted_on", loc=["body", "appointment_on"])
    after = _state(pathway) | {
        "decision": Answer.accepted.value,
        "decided_on": body.accepted_on,
        "appointment_on": body.appointment_on,
    }
    _write(session=session, caller=caller, pathway=pathway, after=after, action="accept")
    return pathway


def refuse(*, session: Session, caller: Caller, pathway_id: int, body: RefuseIn) -> Pathway:
    """The convention's operator refuses a prescription (an admin may too): it ends on that day,
    its seat (or its place on the waiting list) is freed and the waiting list moves, under the
    convention's seat lock as a cancellation. The same refusal again changes nothing; an
    acceptance recorded before, or another refusal, is a 409."""
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    if pathway.decision == Answer.refused:
        same = (pathway.decided_on, pathway.refusal_reason) == (body.refused_on, body.refusal_reason)
        if same and body.comment in (None, pathway.refusal_comment):
            return pathway
    if pathway.decision is not None:
        raise Conflict(f"Pathway {pathway.id} was already {pathway.decision} on {pathway.decided_on}")
    _check_still_answerable(pathway, "refused")
    _check_answer_day(pathway, body.refused_on, "refused_on")
    after = _state(pathway) | {
        "decision": Answer.refused.value,
        "decided_on": body.refused_on,
        "refusal_reason": body.refusal_reason,
        "refusal_comment": body.comment,
        "cancelled_on": body.refused_on,
        "ended_as": EndedAs.refused.value,
    }
    _write(session=session, caller=caller, pathway=pathway, after=after, action="refuse")
    return pathway


def withdraw(*, session: Session, caller: Caller, pathway_id: int, body: WithdrawIn) -> Pathway:
    """The portal key that prescribed withdraws its prescription (an admin may too), before any
    entry, accepted or not: it ends on that day and frees its seat as a cancellation does. The
    same withdrawal again changes nothing; another one is a 409."""
    pathway = access.withdrawable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    if pathway.ended_as == EndedAs.withdrawn:
        if pathway.cancelled_on == body.withdrawn_on and body.reason in (None, pathway.cancel_reason):
            return pathway
        raise Conflict(f"Pathway {pathway.id} was already withdrawn on {pathway.cancelled_on}")
    _check_still_answerable(pathway, "withdrawn")
    _check_answer_day(pathway, body.withdrawn_on, "withdrawn_on")
    after = _state(pathway) | {
        "cancelled_on": body.withdrawn_on,
        "cancel_reason": body.reason,
        "ended_as": EndedAs.withdrawn.value,
    }
    _write(session=session, caller=caller, pathway=pathway, after=after, action="withdraw")
    return pathway


# --- exit batches ------------------------------------------------------------------------------

# An item's outcome: ("created" | "unchanged" | "error", the pathway's id, the problem).
Decision = tuple[str, int | None, AppError | None]


def decide_exits(
    *, session: Session, exits: dict[int, tuple[Row | None, dict[str, Any]]], missing
) -> tuple[dict[int, Decision], dict[int, dict[str, Any]]]:
    """Decide each exit of a batch, without writing: `exits` gives, per item, the row of its
    pathway locked by the caller (its state fields, see access.lock_writable_pathways) and the
    exit's fields (exited_on, exit_reason, hours when given). The same rules as `record_exit`,
    item after item (a pathway named twice sees the first item's exit), with the consolidated
    years read once for the whole batch. Returns each item's decision and the state each exited
    pathway is to be written with."""
    current = {row.id: row._asdict() for row, _exit in exits.values() if row is not None}
    years = set()
    for row, exit_fields in exits.values():
        if row is not None and row.exited_on is None and row.entered_on is not None:
            before = current[row.id]
            years |= touched_years(before, before | exit_fields)
    closed = closed_years(session=session, years=years)
    states: dict[int, dict[str, Any]] = {}
    decided: dict[int, Decision] = {}
    for index, (row, exit_fields) in sorted(exits.items()):
        if row is None:
            decided[index] = ("error", None, missing(index))
            continue
        before = states.get(row.id) or current[row.id]
        try:
            after = _exit_state(pathway_id=row.id, before=before, exit_fields=exit_fields)
            if after is None:
                decided[index] = ("unchanged", row.id, None)
                continue
            if clash := sorted(touched_years(before, after) & closed):
                raise PeriodConsolidated(f"{', '.join(map(str, clash))} consolidated: reopen the period first")
        except AppError as error:
            decided[index] = ("error", row.id, error)
            continue
        states[row.id] = after
        decided[index] = ("created", row.id, None)
    return decided, states


def _exit_state(*, pathway_id: int, before: dict[str, Any], exit_fields: dict[str, Any]) -> dict[str, Any] | None:
    """The state after this exit; None when this very exit is already recorded."""
    if before["cancelled_on"] is not None:
        raise Conflict(f"Pathway {pathway_id} is {before['ended_as'] or 'cancelled'}: it cannot be exited")
    if before["exited_on"] is not None:
        same = (before["exited_on"], before["exit_reason"]) == (
            exit_fields["exited_on"],
            exit_fields["exit_reason"],
        ) and exit_fields.get("hours", before["hours"]) == before["hours"]
        if same:
            return None
        raise Conflict(
            f"Pathway {pathway_id} already has an exit ({before['exited_on']}, {before['exit_reason']}); "
            "PATCH it to correct the exit"
        )
    after = before | exit_fields
    _check_dates(after)
    return after


EXITS_FROM_ARRAYS = text(
    """
    UPDATE pathway
    SET exited_on = exits.exited_on, exit_reason = exits.exit_reason, hours = exits.hours, updated_at = :now
    FROM unnest(CAST(:ids AS integer[]), CAST(:days AS date[]), CAST(:reasons AS varchar[]), CAST(:hours AS float8[]))
        AS exits (pathway_id, exited_on, exit_reason, hours)
    WHERE pathway.id = exits.pathway_id
    """
)


def write_exits(
    *, session: Session, caller: Caller, states: dict[int, dict[str, Any]], pathways: dict[int, Row]
) -> None:
    """Store the exits `decide_exits` accepted: one UPDATE for all of them on PostgreSQL, one
    audit event for the batch (naming the pathways), their feed rows, then the waiting lists
    they free (only where someone waits: the counters say so without a count)."""
    if not states:
        return
    now = utcnow()
    ordered = sorted(states.items())
    if is_postgres(session):
        # The whole batch as four arrays: one statement of five parameters, which neither
        # SQLAlchemy nor psycopg has to render item by item.
        session.execute(
            EXITS_FROM_ARRAYS,
            {
                "ids": [pathway_id for pathway_id, _state in ordered],
                "days": [state["exited_on"] for _id, state in ordered],
                "reasons": [state["exit_reason"] for _id, state in ordered],
                "hours": [state["hours"] for _id, state in ordered],
                "now": now,
            },
        )
    else:
        # SQLite runs in the process: a statement per exit costs no round trip.
        table = Pathway.__table__
        session.execute(
            update(table)
            .execution_options(**{FEED_NOTED: True})  # noted below
            .where(table.c.id == bindparam("pathway_id"))
            .values(
                exited_on=bindparam("new_exited_on"),
                exit_reason=bindparam("new_exit_reason"),
                hours=bindparam("new_hours"),
                updated_at=bindparam("new_updated_at"),
            ),
            [
                {
                    "pathway_id": pathway_id,
                    "new_exited_on": state["exited_on"],
                    "new_exit_reason": state["exit_reason"],
                    "new_hours": state["hours"],
                    "new_updated_at": now,
                }
                for pathway_id, state in ordered
            ],
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
        seats.promote_waitlisted(session=session, caller=caller, convention_id=convention_id)
