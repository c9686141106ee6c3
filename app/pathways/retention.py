"""Retention (RGPD, SPEC C2): forget who followed pathways that ended long ago, keep the figures.

A pathway that ended (exited or cancelled) before the cut-off day is detached from its person:
its link to the pseudonym (`beneficiary_id`) and its `insee_code` go; its dates, exit, hours and
the other characteristics the indicators group by stay, and so do its FSE records (participant
at entry and on leaving, follow-up: app/esf/records/models.py), which name the pathway, never the
person, so that the ESF+ report of a closed year keeps its counts. Its diagnostic (SPEC C7) loses
its free text, the summary and the notes of its recommendations; its dimensions, its day and the
actions it recommended stay (the barrier rates count them). A beneficiary row that no pathway points
to any more is deleted, pseudonym and all, so the same file number posted again starts a new
person.

Every figure stays the same because indicators count persons by `person_key`, which each pathway
got from its beneficiary when it was recorded and keeps (see app/pathways/models.py). The price:
while a person still has a pathway that is not detached, their detached ones share its person
key, so they stay linkable to that person until the last of their pathways is detached too; at
that point the beneficiary row, the only link to the file number, is deleted.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, bindparam, delete, distinct, exists, func, or_, select, update
from sqlmodel import Session

from app.audit.service import record
from app.core.caller import Caller
from app.core.changes import FEED_NOTED, note_change
from app.core.errors import InvalidInput
from app.core.sql import analyze_after_bulk
from app.core.time import today, utcnow
from app.pathways.models import Beneficiary, BeneficiaryEngagement, Diagnostic, Pathway

AUDIT_ENTITY = "retention"


@dataclass(frozen=True)
class RetentionReport:
    ended_before: date
    dry_run: bool
    pathways_detached: int
    persons_forgotten: int  # beneficiary rows deleted: no pathway points to them any more
    persons_kept: int  # people with a detached pathway who still have a later one
    diagnostics_erased: int = 0  # diagnostics of those pathways whose free text went

    def __str__(self) -> str:
        verb = "would detach" if self.dry_run else "detached"
        return (
            f"pathways ended before {self.ended_before}: {verb} {self.pathways_detached}; "
            f"persons forgotten (pseudonym deleted): {self.persons_forgotten}; "
            f"persons kept for their later pathways: {self.persons_kept}; "
            f"diagnostics erased (summary and notes): {self.diagnostics_erased}"
            + (" (dry run: nothing changed)" if self.dry_run else "")
        )


def default_cut_off(*, years: int, on: date | None = None) -> date:
    """The day `years` years before `on` (default today); 29 February falls back to the 28th."""
    on = on or today()
    try:
        return on.replace(year=on.year - years)
    except ValueError:
        return on.replace(year=on.year - years, day=28)


def apply_retention(*, session: Session, caller: Caller, ended_before: date, dry_run: bool) -> RetentionReport:
    """Detach the pathways ended before `ended_before`; with `dry_run`, only count. Set-based (a
    handful of statements, whatever the number of pathways) and idempotent: a detached pathway
    is not counted again."""
    if ended_before > today():
        raise InvalidInput("The cut-off day cannot be in the future", loc=["ended_before"])
    # A pathway is exited or cancelled, never both (CHECK constraints): it ended on one of them.
    ended_on = func.coalesce(Pathway.exited_on, Pathway.cancelled_on)
    to_detach = and_(Pathway.beneficiary_id.is_not(None), ended_on < ended_before)
    not_ended_then = or_(ended_on.is_(None), ended_on >= ended_before)
    their_persons = select(Pathway.beneficiary_id).where(to_detach)

    pathways = session.scalar(select(func.count()).select_from(Pathway).where(to_detach))
    persons = session.scalar(select(func.count(distinct(Pathway.beneficiary_id))).where(to_detach))
    kept = session.scalar(
        select(func.count(distinct(Pathway.beneficiary_id))).where(
            Pathway.beneficiary_id.in_(their_persons), not_ended_then
        )
    )
    ended_then = select(Pathway.id).where(ended_on < ended_before)
    to_erase = and_(Diagnostic.pathway_id.in_(ended_then), Diagnostic.erased_at.is_(None))
    diagnostics = session.execute(
        select(Diagnostic.pathway_id, Diagnostic.recommendations).where(to_erase).order_by(Diagnostic.pathway_id)
    ).all()
    report = RetentionReport(
        ended_before=ended_before,
        dry_run=dry_run,
        pathways_detached=pathways,
        persons_forgotten=persons - kept,
        persons_kept=kept,
        diagnostics_erased=len(diagnostics),
    )
    if dry_run or not (pathways or diagnostics):
        return report
    # What pollers of the feed hold of these pathways changes (their insee_code goes): each moves.
    for pathway_id in session.scalars(select(Pathway.id).where(to_detach)):
        note_change(session, "pathway", pathway_id)
    if diagnostics:
        # The notes live inside a JSON list: rewritten from Python, one statement for them all.
        table = Diagnostic.__table__
        session.execute(
            update(table)
            .where(table.c.pathway_id == bindparam("erased_id"))
            .values(summary=None, recommendations=bindparam("without_notes"), erased_at=bindparam("now")),
            [
                {
                    "erased_id": pathway_id,
                    "without_notes": [{"action": item["action"], "note": None} for item in recommendations],
                    "now": utcnow(),
                }
                for pathway_id, recommendations in diagnostics
            ],
        )
    session.execute(
        update(Pathway).where(to_detach).values(beneficiary_id=None, insee_code=None),
        execution_options={"synchronize_session": False, FEED_NOTED: True},
    )
    # The pseudonyms nothing points to any more: the only link from a file number to the pathways,
    # and with them what is known of the person's contrat d'engagement (SPEC C11).
    forgotten = ~exists().where(Pathway.beneficiary_id == BeneficiaryEngagement.beneficiary_id)
    session.execute(delete(BeneficiaryEngagement).where(forgotten), execution_options={"synchronize_session": False})
    session.execute(
        delete(Beneficiary).where(~exists().where(Pathway.beneficiary_id == Beneficiary.id)),
        execution_options={"synchronize_session": False},
    )
    analyze_after_bulk(session, (Pathway, Beneficiary, Diagnostic), pathways + report.persons_forgotten)
    record(
        session=session,
        caller=caller,
        entity=AUDIT_ENTITY,
        entity_id=ended_before.isoformat(),
        action="detach",
        fields=[
            "beneficiary",
            "beneficiary_engagement",
            "pathway.beneficiary_id",
            "pathway.insee_code",
            "diagnostic.summary",
            "diagnostic.recommendations.note",
        ],
        details={
            "diagnostics_erased": report.diagnostics_erased,
            "pathways_detached": report.pathways_detached,
            "persons_forgotten": report.persons_forgotten,
            "persons_kept": report.persons_kept,
        },
    )
    session.flush()
    return report
