"""Who may see and change pathways, exits and activity: the one place that decides.

- admin: everything;
- operator: pathways, exits and activity of its own operator's conventions only; anything else
  is a 404 (never a 403, which would confirm it exists) and lists never show it;
- portal: creates prescriptions on any convention, reads back and withdraws the pathways it
  created (and their diagnostics); reads activity counters; nothing else (403);
- reader: activity counters only (they are no personal data); 403 on pathways;
- anonymous: 401.
"""

from collections.abc import Sequence
from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import ColumnElement, Row, and_, true
from sqlmodel import Session, select

from app.auth.dependencies import require_role
from app.conventions.models import Convention, ConventionStatus
from app.core.caller import Caller, Role
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.core.sql import ids_table, rows_table
from app.pathways.models import Beneficiary, Pathway
from app.seats.service import lock_seats_of

# Route-level gates (401 anonymous, 403 other roles).
PathwayReaderDep = Annotated[Caller, Depends(require_role(Role.admin, Role.operator, Role.portal))]
PrescriberDep = PathwayReaderDep
PathwayWriterDep = Annotated[Caller, Depends(require_role(Role.admin, Role.operator))]
ActivityReaderDep = Annotated[Caller, Depends(require_role(Role.admin, Role.operator, Role.portal, Role.reader))]
ActivityWriterDep = PathwayWriterDep


def _is_operator(caller: Caller) -> bool:
    return caller.role == Role.operator


def pathway_visibility(caller: Caller) -> ColumnElement[bool]:
    """Condition on Pathway (joined to its Convention) selecting what the caller may read."""
    if _is_operator(caller):
        return Convention.operator_id == caller.operator_id
    if caller.role == Role.portal:
        return Pathway.created_by_key_id.in_(caller.own_key_ids)  # every generation of its key
    if caller.role == Role.admin:
        return true()
    raise Forbidden("This key cannot read pathways")


def _one_pathway(session: Session, caller: Caller, *conditions, for_update: bool) -> Pathway | None:
    statement = (
        select(Pathway)
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(pathway_visibility(caller), *conditions)
    )
    if for_update:
        convention_id = session.exec(statement.with_only_columns(Pathway.convention_id)).first()
        if convention_id is None:
            return None
        lock_seats_of(session, [convention_id])
        # Locks the pathway row (PostgreSQL) until commit; SQLite serialises writers anyway.
        statement = statement.with_for_update(of=Pathway).execution_options(populate_existing=True)
    return session.exec(statement).first()


def visible_pathway(*, session: Session, caller: Caller, pathway_id: int) -> Pathway:
    """The pathway if the caller may read it, else 404."""
    pathway = _one_pathway(session, caller, Pathway.id == pathway_id, for_update=False)
    if pathway is None:
        raise NotFound(f"Pathway {pathway_id} does not exist")
    return pathway


def may_read(*, session: Session, caller: Caller, pathway_id: int) -> bool:
    """Whether the caller may read this pathway (for messages that would otherwise name it)."""
    return _one_pathway(session, caller, Pathway.id == pathway_id, for_update=False) is not None


def check_writer(caller: Caller) -> None:
    if caller.role not in (Role.admin, Role.operator):
        raise Forbidden("Only admin and operator keys write pathways, exits and activity")


def writable_pathway(*, session: Session, caller: Caller, pathway_id: int) -> Pathway:
    """The pathway, locked, if the caller may change it: 403 for read-only roles, 404 if not theirs."""
    check_writer(caller)
    pathway = _one_pathway(session, caller, Pathway.id == pathway_id, for_update=True)
    if pathway is None:
        raise NotFound(f"Pathway {pathway_id} does not exist")
    return pathway


def withdrawable_pathway(*, session: Session, caller: Caller, pathway_id: int) -> Pathway:
    """The pathway, locked, if the caller may withdraw it: the portal key that created it, or an
    admin (SPEC C7); 403 for other roles, 404 for another portal's."""
    if caller.role not in (Role.admin, Role.portal):
        raise Forbidden("Only the portal key that prescribed a pathway, or an admin key, withdraws it")
    pathway = _one_pathway(session, caller, Pathway.id == pathway_id, for_update=True)
    if pathway is None:
        raise NotFound(f"Pathway {pathway_id} does not exist")
    return pathway


def pathways_by_entry(
    *, session: Session, caller: Caller, entries: set[tuple[int, str, date]]
) -> dict[tuple[int, str, date], int]:
    """The ids of the caller's pathways named by (convention id, person's ref hash, entry day),
    in one query for a whole batch: the keys are a table joined to the pathways (three array
    parameters on PostgreSQL, see rows_table), not a tuple IN of three parameters a key."""
    if not entries:
        return {}
    pathway = Pathway.__table__.c
    keys = rows_table(
        session,
        "entry",
        [
            ("convention_id", pathway.convention_id.type),
            ("ref_hash", Beneficiary.__table__.c.ref_hash.type),
            ("entered_on", pathway.entered_on.type),
        ],
        sorted(entries),
    )
    rows = session.execute(
        select(Pathway.convention_id, Beneficiary.ref_hash, Pathway.entered_on, Pathway.id)
        .select_from(keys)
        .join(Beneficiary, Beneficiary.ref_hash == keys.c.ref_hash)
        .join(
            Pathway,
            and_(
                Pathway.beneficiary_id == Beneficiary.id,
                Pathway.convention_id == keys.c.convention_id,
                Pathway.entered_on == keys.c.entered_on,
            ),
        )
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(pathway_visibility(caller))
    )
    return {
        (convention_id, ref_hash, entered_on): pathway_id for convention_id, ref_hash, entered_on, pathway_id in rows
    }


def lock_writable_pathways(
    *, session: Session, caller: Caller, pathway_ids: set[int], columns: Sequence[str]
) -> dict[int, Row]:
    """The caller's pathways among `pathway_ids`, locked in id order (two batches locking in the
    same order wait for each other instead of deadlocking), as rows of their id, convention and
    `columns` (no ORM objects: a batch reads a thousand); the others are absent."""
    check_writer(caller)
    if not pathway_ids:
        return {}
    named = ids_table(session, pathway_ids)
    convention_ids = session.exec(
        select(Pathway.convention_id)
        .join(named, named.c.id == Pathway.id)
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(pathway_visibility(caller))
        .distinct()
    ).all()
    lock_seats_of(session, convention_ids)
    statement = _writable_pathways(named, caller=caller, columns=columns).with_for_update(of=Pathway)
    return {row.id: row for row in session.execute(statement)}


def writable_pathways(
    *, session: Session, caller: Caller, pathway_ids: set[int], columns: Sequence[str]
) -> dict[int, Row]:
    """The rows `lock_writable_pathways` would return, read without locking anything: a batch
    decides on them before it takes the locks, then compares them with the locked rows."""
    check_writer(caller)
    if not pathway_ids:
        return {}
    named = ids_table(session, pathway_ids)
    return {row.id: row for row in session.execute(_writable_pathways(named, caller=caller, columns=columns))}


def _writable_pathways(named, *, caller: Caller, columns: Sequence[str]):
    return (
        select(Pathway.id, Pathway.convention_id, *(getattr(Pathway, name) for name in columns))
        .join(named, named.c.id == Pathway.id)
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(pathway_visibility(caller))
        .order_by(Pathway.id)
    )


def convention_for_activity(*, session: Session, caller: Caller, convention_id: int, write: bool) -> Convention:
    """The convention whose activity the caller reads or writes; 404 when it is not theirs."""
    if write:
        check_writer(caller)
    convention = session.get(Convention, convention_id)
    if convention is None or (_is_operator(caller) and convention.operator_id != caller.operator_id):
        raise NotFound(f"Convention {convention_id} does not exist")
    return convention


def check_can_create_on(*, caller: Caller, convention: Convention, stay_fields: list[str]) -> None:
    """An operator creates pathways on its own conventions only (404 for another's); a portal key
    posts prescriptions, not stays (403 when it sends entry or exit fields), on active conventions."""
    if _is_operator(caller) and convention.operator_id != caller.operator_id:
        raise NotFound(f"Convention {convention.id} does not exist")
    if caller.role == Role.portal and stay_fields:
        raise Forbidden(f"A portal key posts prescriptions only; it cannot send {', '.join(stay_fields)}")
    if caller.role == Role.portal and convention.status != ConventionStatus.active:
        raise InvalidInput(
            f"Convention {convention.id} is not active: it takes no prescriptions", loc=["body", "convention_id"]
        )
