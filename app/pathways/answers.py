"""Answers to a prescription (SPEC C7): the operator accepts or refuses it, the prescriber
withdraws it. Each is a pathway write like the others (service.write_pathway: the rules, the
consolidated years, the seat locks and the waiting list's promotion, the audit and the feed).
"""

from datetime import date

from sqlmodel import Session

from app.core.caller import Caller
from app.core.errors import Conflict, InvalidInput
from app.core.time import today
from app.pathways import access, rules, service
from app.pathways.models import Decision as Answer
from app.pathways.models import EndedAs, Pathway, PathwayStatus
from app.pathways.schemas import (
    AcceptIn,
    RefuseIn,
    WithdrawIn,
)


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
    after = rules.state_of(pathway) | {
        "decision": Answer.accepted.value,
        "decided_on": body.accepted_on,
        "appointment_on": body.appointment_on,
    }
    service.write_pathway(session=session, caller=caller, pathway=pathway, after=after, action="accept")
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
    after = rules.state_of(pathway) | {
        "decision": Answer.refused.value,
        "decided_on": body.refused_on,
        "refusal_reason": body.refusal_reason,
        "refusal_comment": body.comment,
        "cancelled_on": body.refused_on,
        "ended_as": EndedAs.refused.value,
    }
    service.write_pathway(session=session, caller=caller, pathway=pathway, after=after, action="refuse")
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
    after = rules.state_of(pathway) | {
        "cancelled_on": body.withdrawn_on,
        "cancel_reason": body.reason,
        "ended_as": EndedAs.withdrawn.value,
    }
    service.write_pathway(session=session, caller=caller, pathway=pathway, after=after, action="withdraw")
    return pathway
