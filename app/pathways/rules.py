"""The rules every write of a pathway must pass, one definition for single writes and batches.

A pathway's dates feed the indicators, so each write checks, in this order: the dates among
themselves and against today; the convention (status, dates, sites); the consolidated years it
would change; and, with the beneficiary's row locked, that the person has no other open pathway
nor an overlapping stay in the same convention. Locking the beneficiary first is what keeps two
concurrent requests from both creating overlapping pathways. An exit follows one rule
(`exit_state`), whether it comes alone or in a batch.
"""

from datetime import date
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from app.conventions.models import Convention, ConventionSite
from app.core.caller import Caller
from app.core.errors import Conflict, InvalidInput
from app.core.time import today
from app.pathways import access
from app.pathways.models import Beneficiary, Pathway

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
    "weekly_hours",
    "cancel_reason",
    "waitlisted",
    "appointment_on",
    "refusal_reason",
    "refusal_comment",
)


def state_of(pathway: Pathway | None) -> dict[str, Any]:
    if pathway is None:
        return dict.fromkeys(STATE_FIELDS)
    return {name: getattr(pathway, name) for name in STATE_FIELDS}


def check_dates(state: dict[str, Any]) -> None:
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


def check_convention_fit(*, session: Session, state: dict[str, Any], convention: Convention) -> None:
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


def years_between(first: date, second: date) -> set[int]:
    low, high = sorted((first, second))
    return set(range(low.year, high.year + 1))


def stay_of(state: dict[str, Any]) -> tuple[date, date] | None:
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
    old_stay, new_stay = stay_of(before), stay_of(after)
    if old_stay != new_stay:
        if old_stay is None or new_stay is None:
            years |= years_between(*(old_stay or new_stay))
        else:
            for old_bound, new_bound in zip(old_stay, new_stay):
                if old_bound != new_bound:
                    years |= years_between(old_bound, new_bound)
    if before["hours"] != after["hours"]:
        for stay in (old_stay, new_stay):
            if stay is not None:
                years |= years_between(*stay)
    return years


def lock_beneficiary(session: Session, *condition) -> Beneficiary | None:
    statement = select(Beneficiary).where(*condition).with_for_update().execution_options(populate_existing=True)
    return session.exec(statement).first()


def check_no_overlap(
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


def exit_state(*, pathway_id: int, before: dict[str, Any], exit_fields: dict[str, Any]) -> dict[str, Any] | None:
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
    check_dates(after)
    return after
