"""Pathways and their beneficiaries written one by one (prescription, correction, entry, exit,
cancellation) through write_pathway, which checks every rule of rules.py, the consolidated years,
and moves the seats and the waiting list; the FSE participant given with a pathway or its exit is
stored by ESF+'s records (app/esf/records/participants.py), called from here.

Elsewhere in this domain: reading pathways (reads.py), the answers to a prescription
(answers.py), the exit batches whole (exit_records.py; their bodies read by batches.py), the
expiry (expiry.py), the seats (app/seats) and the waiting list (waiting_list.py), who may see
what (access.py).
"""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.audit.service import record
from app.conventions.models import Convention, ConventionStatus
from app.core.caller import Caller
from app.core.config import get_settings
from app.core.errors import Conflict, ConventionFull, InvalidInput
from app.core.etag import check_if_match
from app.core.security import pseudonymise
from app.core.time import today, utcnow
from app.esf.records import participants
from app.esf.records.schemas import leaving_fields
from app.pathways import access, rules
from app.pathways.models import Beneficiary, Pathway, PathwayStatus
from app.pathways.reads import AUDIT_PATHWAY, ENDED_BEFORE_ENTRY, read_model
from app.pathways.schemas import (
    BeneficiaryFields,
    CancelIn,
    EntryIn,
    ExitIn,
    PathwayCreate,
    PathwayUpdate,
)
from app.pathways.waiting_list import promote_waitlisted
from app.periods.service import ensure_open
from app.seats import service as seats

AUDIT_BENEFICIARY = "beneficiary"


def ref_hash_of(beneficiary_ref: str) -> str:
    return pseudonymise(beneficiary_ref, secret=get_settings().secret_key)


# --- storing a checked state -------------------------------------------------------------------


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
    changes = {name: after[name] for name in rules.STATE_FIELDS if getattr(pathway, name) != after[name]}
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


def _record_participant(
    *, session: Session, caller: Caller, pathway: Pathway, fields: dict[str, Any], action: str
) -> None:
    """Store the FSE participant's fields given with a write of the pathway; a change moves the
    pathway's `updated_at`, so that its ETag moves and the change feed carries it again."""
    changed = participants.write_participant(
        session=session,
        caller=caller,
        pathway_id=pathway.id,
        entered_on=pathway.entered_on,
        exited_on=pathway.exited_on,
        fields=fields,
        action=action,
    )
    if changed:
        pathway.updated_at = utcnow()
        session.add(pathway)
        session.flush()


# --- beneficiaries -----------------------------------------------------------------------------


def person_for(*, session: Session, caller: Caller, beneficiary_ref: str) -> Beneficiary:
    """The person of this file number (a pseudonym only), created if new, its row locked until
    commit: the lock serialises two requests writing pathways of the same person."""
    ref_hash = ref_hash_of(beneficiary_ref)
    beneficiary = rules.lock_beneficiary(session, Beneficiary.ref_hash == ref_hash)
    if beneficiary is not None:
        return beneficiary
    try:
        with session.begin_nested():
            beneficiary = Beneficiary(ref_hash=ref_hash)
            session.add(beneficiary)
            session.flush()
    except IntegrityError:
        # Another request created the same person meanwhile: wait for its row instead.
        return rules.lock_beneficiary(session, Beneficiary.ref_hash == ref_hash)
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
    promote_waitlisted(session=session, caller=caller, convention_id=convention.id)
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
    """Prescribe a pathway (or import a whole one), with the participant given with it."""
    participants.check_writer(caller, body.participant)
    after = rules.state_of(None) | body.model_dump(include=set(rules.STATE_FIELDS))
    rules.check_dates(after)
    convention = _convention_for_new_pathway(session=session, caller=caller, body=body)
    # Its seats before the person's row: the lock order of every pathway write (seats.lock_seats_of).
    seats.lock_seats_of(session, [convention.id])
    rules.check_convention_fit(session=session, state=after, convention=convention)
    ensure_open(session=session, years=rules.touched_years(rules.state_of(None), after))
    beneficiary = person_for(session=session, caller=caller, beneficiary_ref=body.beneficiary_ref)
    rules.check_no_overlap(
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
    if body.participant is not None:
        given = body.participant.model_dump(exclude_none=True)
        _record_participant(session=session, caller=caller, pathway=pathway, fields=given, action="create")
    return pathway


def write_pathway(
    *,
    session: Session,
    caller: Caller,
    pathway: Pathway,
    after: dict[str, Any],
    action: str,
    characteristics: dict[str, Any] | None = None,
) -> None:
    """Check `after` against every rule, then store it."""
    before = rules.state_of(pathway)
    # An entry or a cancellation takes the pathway off the waiting list.
    after = after | {
        "waitlisted": after["waitlisted"] and after["entered_on"] is None and after["cancelled_on"] is None
    }
    rules.check_dates(after)
    convention = session.get(Convention, pathway.convention_id)
    rules.check_convention_fit(session=session, state=after, convention=convention)
    ensure_open(session=session, years=rules.touched_years(before, after))
    if any(before[name] != after[name] for name in ("entered_on", "exited_on", "cancelled_on")):
        if pathway.beneficiary_id is not None:  # a pathway detached by retention has no row to lock
            rules.lock_beneficiary(session, Beneficiary.id == pathway.beneficiary_id)
        rules.check_no_overlap(
            session=session,
            caller=caller,
            state=after,
            convention_id=pathway.convention_id,
            person_key=pathway.person_key,
            pathway_id=pathway.id,
        )
    _apply(session=session, caller=caller, pathway=pathway, after=after, action=action, characteristics=characteristics)
    # Any change of dates may free a seat (an exit, a cancellation, a corrected entry).
    promote_waitlisted(session=session, caller=caller, convention_id=pathway.convention_id)


def update_pathway(
    *, session: Session, caller: Caller, pathway_id: int, body: PathwayUpdate, if_match: str | None
) -> Pathway:
    """Correct a pathway (its If-Match, its rules), then its participant: fields given overwrite
    (null clears), absent ones stay."""
    participants.check_writer(caller, body.participant)
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    check_if_match(if_match, read_model(session=session, pathway=pathway, caller=caller))
    after = rules.state_of(pathway) | body.model_dump(exclude_unset=True, exclude={"beneficiary"})
    characteristics = _characteristics_changes(pathway, body.beneficiary)
    if "territory" in characteristics and (stay := rules.stay_of(after)) is not None:
        # Indicators by territory count this pathway's stay in its territory: moving it changes
        # the figures of every year the stay covers.
        ensure_open(session=session, years=rules.years_between(*stay))
    write_pathway(
        session=session, caller=caller, pathway=pathway, after=after, action="update", characteristics=characteristics
    )
    if body.participant is not None:
        given = body.participant.model_dump(exclude_unset=True)
        _record_participant(session=session, caller=caller, pathway=pathway, fields=given, action="update")
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
    write_pathway(
        session=session, caller=caller, pathway=pathway, after=rules.state_of(pathway) | given, action="entry"
    )
    return pathway


def exit_pathway(*, session: Session, caller: Caller, pathway_id: int, body: ExitIn) -> Pathway:
    """Record the exit and its FSE leaving fields; the same exit again changes nothing, another
    one is a 409 (the rule of rules.exit_state, as for a batch's items), and so are other leaving
    fields."""
    pathway = access.writable_pathway(session=session, caller=caller, pathway_id=pathway_id)
    before = rules.state_of(pathway)
    exit_fields = body.model_dump(include={"exited_on", "exit_reason", "hours"}, exclude_none=True)
    after = rules.exit_state(pathway_id=pathway.id, before=before, exit_fields=exit_fields)
    if after is None:
        participants.check_same_leaving(session=session, pathway_id=pathway.id, given=leaving_fields(body))
        return pathway
    # Closing an open pathway only shortens its stay: no overlap can appear, no need to look.
    ensure_open(session=session, years=rules.touched_years(before, after))
    _apply(session=session, caller=caller, pathway=pathway, after=after, action="exit")
    promote_waitlisted(session=session, caller=caller, convention_id=pathway.convention_id)
    if leaving := leaving_fields(body):
        _record_participant(session=session, caller=caller, pathway=pathway, fields=leaving, action="exit")
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
    after = rules.state_of(pathway) | {
        "cancelled_on": body.cancelled_on or today(),
        "cancel_reason": body.cancel_reason,
    }
    write_pathway(session=session, caller=caller, pathway=pathway, after=after, action="cancel")
    return pathway
