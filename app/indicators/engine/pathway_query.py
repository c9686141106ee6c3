"""The pathway query: per group, the pathway figures the asked indicators need, in one pass."""

from collections.abc import Iterable

from sqlalchemy import Date, Integer, and_, distinct, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.conventions.models import Convention, ConventionYear
from app.esf.records.models import EMPLOYED_SITUATIONS, KNOWN_SITUATIONS, FollowUp
from app.indicators.engine.framework import Frame, Query
from app.indicators.engine.totals import PathwayTotals
from app.indicators.sql import days_between, full_scan, greatest, least
from app.pathways.models import EndedAs, Pathway
from app.reference.exit_reasons import COMPLETED_REASONS, DURABLE_EMPLOYMENT_REASONS, DYNAMIC_REASONS

# The endings of a prescription that count on their day: withdrawals and expiries.
COUNTED_ENDINGS = (EndedAs.withdrawn.value, EndedAs.expired.value)

# The pathway figures (PathwayTotals fields) each indicator is computed from.
PATHWAY_FIGURES: dict[str, tuple[str, ...]] = {
    "persons_present": ("persons_present",),
    "entries": ("entries",),
    "exits": ("exits",),
    "prescriptions": ("prescriptions",),
    "occupancy_rate": ("stay_days",),
    "dynamic_exit_rate": ("dynamic_exits", "exits"),
    "durable_employment_rate": ("durable_exits", "exits"),
    "business_creation_rate": ("business_creation_exits", "exits"),
    "completion_rate": ("completed_exits", "exits"),
    "hours_threshold_reached": ("with_hours", "hours_threshold_reached"),
    "mean_entry_delay_days": ("entry_delay_days", "entries"),
    "cost_per_person": ("persons_present",),
    "cost_per_dynamic_exit": ("dynamic_exits",),
    "decisions": ("decisions",),
    "refusal_rate": ("refusals", "decisions"),
    "mean_decision_delay_days": ("decision_delay_days", "decisions"),
    "withdrawals": ("withdrawals",),
    "expired_prescriptions": ("expired",),
    "employment_6_months_rate": ("follow_ups_known", "follow_ups_employed"),
}
FOLLOW_UP_FIGURES = ("follow_ups_known", "follow_ups_employed")
# The figures that only pathways whose stay meets W add to: an entry or an exit in W lies within
# such a stay (an exit comes after its entry). The others count prescriptions, answers and
# endings, which pathways without a stay in W have too.
STAY_FIGURES = frozenset(
    {
        "persons_present",
        "entries",
        "exits",
        "dynamic_exits",
        "durable_exits",
        "business_creation_exits",
        "completed_exits",
        "stay_days",
        "entry_delay_days",
        "with_hours",
        "hours_threshold_reached",
        *FOLLOW_UP_FIGURES,
    }
)


def pathway_totals(session: Session, query: Query) -> dict[tuple, PathwayTotals]:
    """Per group: the pathway figures that the asked indicators need, and only those (each one is
    an expression evaluated on every pathway row of every window; the distinct counts, a sort)."""
    wanted = {name for code in query.indicators for name in PATHWAY_FIGURES.get(code, ())}
    if not wanted and set(query.keys) <= {"year"}:
        return {}  # nothing to count, and these rows exist whatever the pathways
    windows = query.windows
    frame = Frame(
        [(w.year, w.start, w.end, w.end.year) for w in windows],
        {"year": Integer(), "ws": Date(), "we": Date(), "last_year": Integer()},
    )
    ws, we = frame.c["ws"], frame.c["we"]
    # A scope of one convention or operator reads few pathways: through the index. Anything wider
    # reads most of them: in one sequential pass.
    narrow = query.scope.convention_id is not None or query.scope.operator_id is not None
    pathways = Pathway.__table__ if narrow else full_scan(Pathway.__table__)
    p = pathways.c
    threshold_year = aliased(ConventionYear)

    not_cancelled = p.cancelled_on.is_(None)
    stay_meets = and_(
        not_cancelled,
        p.entered_on.is_not(None),
        p.entered_on <= we,  # W ends on or before as_of: the pathway had entered by then
        or_(p.exited_on.is_(None), p.exited_on >= ws),
    )
    prescribed_in = and_(p.prescribed_on >= ws, p.prescribed_on <= we)
    decided_in = and_(p.decided_on >= ws, p.decided_on <= we)
    # Withdrawals and expiries count on the day the prescription ended (its cancelled_on).
    ended_in = and_(p.ended_as.in_(COUNTED_ENDINGS), p.cancelled_on >= ws, p.cancelled_on <= we)
    # The rows counted are those of the pathways whose stay meets W or that were prescribed,
    # answered, withdrawn or expired in W.
    # Among them, the schema's CHECKs (an entry after its prescription and never with a
    # cancellation, an exit after its entry) make an entry on or before W's end mean "the stay
    # meets W", and an entry or exit date mean "not cancelled": each figure tests a date or two
    # instead of the four conditions again, on every row of every window.
    in_stay = p.entered_on <= we
    entered_in = and_(p.entered_on >= ws, p.entered_on <= we)
    exited_in = and_(p.exited_on >= ws, p.exited_on <= we)
    # stay ∩ W; W ends on or before as_of, so an exit after as_of is cut at W's end.
    stay_end = least(func.coalesce(p.exited_on, we), we)
    stay_start = greatest(p.entered_on, ws)

    def exits_with(reasons: Iterable[str]):
        return func.count().filter(and_(exited_in, p.exit_reason.in_(sorted(reasons))))

    follow_up = FollowUp.__table__.c

    figures = {
        "persons_present": func.count(distinct(p.person_key)).filter(in_stay),
        "entries": func.count().filter(entered_in),
        "exits": func.count().filter(exited_in),
        "dynamic_exits": exits_with(DYNAMIC_REASONS),
        "durable_exits": exits_with(DURABLE_EMPLOYMENT_REASONS),
        "business_creation_exits": exits_with({"business_creation"}),
        "completed_exits": exits_with(COMPLETED_REASONS),
        "prescriptions": func.count().filter(prescribed_in),
        "stay_days": func.sum(days_between(stay_end, stay_start) + 1).filter(in_stay),
        "entry_delay_days": func.sum(days_between(p.entered_on, p.prescribed_on)).filter(entered_in),
        "with_hours": func.count().filter(and_(in_stay, p.hours.is_not(None))),
        "hours_threshold_reached": func.count(distinct(p.person_key)).filter(
            and_(in_stay, p.hours >= threshold_year.hours_threshold)
        ),
        "decisions": func.count().filter(decided_in),
        "refusals": func.count().filter(and_(decided_in, p.decision == "refused")),
        "decision_delay_days": func.sum(days_between(p.decided_on, p.prescribed_on)).filter(decided_in),
        "withdrawals": func.count().filter(and_(ended_in, p.ended_as == "withdrawn")),
        "expired": func.count().filter(and_(ended_in, p.ended_as == "expired")),
        "follow_ups_known": func.count().filter(and_(exited_in, follow_up.situation.in_(sorted(KNOWN_SITUATIONS)))),
        "follow_ups_employed": func.count().filter(
            and_(exited_in, follow_up.situation.in_(sorted(EMPLOYED_SITUATIONS)))
        ),
    }
    statement = select(
        *query.key_columns(p),
        *([frame.c["year"].label("window_year")] if frame.many else []),
        *(figure.label(name) for name, figure in figures.items() if name in wanted),
    ).select_from(pathways)
    statement = statement.join(Convention, Convention.id == p.convention_id)
    statement = query.join_catalogue(statement)
    statement = statement.where(*query.scope_filters())
    # The bilan's figures are all of stays: reading only the pathways whose stay meets W spares the
    # OR of four date ranges on every row and window, and the rows it would add to the sort.
    stays_only = not query.every_group and wanted <= STAY_FIGURES
    if frame.many:
        # Constant bounds over all the windows, which the planner can use before the join.
        first_day, last_day = min(w.start for w in windows), max(w.end for w in windows)
        stay_bound = and_(not_cancelled, p.entered_on <= last_day, or_(p.exited_on.is_(None), p.exited_on >= first_day))
        statement = statement.where(
            stay_bound
            if stays_only
            else or_(
                and_(p.prescribed_on >= first_day, p.prescribed_on <= last_day),
                stay_bound,
                and_(p.decided_on >= first_day, p.decided_on <= last_day),
                and_(p.ended_as.in_(COUNTED_ENDINGS), p.cancelled_on >= first_day, p.cancelled_on <= last_day),
            )
        )
    if query.scope.territory is not None:
        statement = statement.where(p.territory == query.scope.territory)
    # Every pathway with something in W: an entry or an exit in W lies within a stay that meets W
    # (an exit comes after its entry), so these two conditions cover them all.
    statement = frame.attach(
        statement, stay_meets if stays_only else or_(stay_meets, prescribed_in, decided_in, ended_in)
    )
    if wanted & set(FOLLOW_UP_FIGURES):
        # At most one follow-up per pathway: the join adds columns, never rows.
        statement = statement.outerjoin(FollowUp.__table__, follow_up.pathway_id == p.id)
    if "hours_threshold_reached" in wanted:
        # The hours threshold is that of the convention's year of W's last day.
        statement = statement.outerjoin(
            threshold_year,
            and_(threshold_year.convention_id == p.convention_id, threshold_year.year == frame.c["last_year"]),
        )
    group_columns = query.key_expressions(p)
    if frame.many:
        group_columns.append(frame.c["year"])
    if group_columns:
        statement = statement.group_by(*group_columns)

    totals: dict[tuple, PathwayTotals] = {}
    for row in session.execute(statement):
        year = row.window_year if frame.many else windows[0].year
        # A sum over no row is NULL; the figures not asked for stay 0.
        totals[query.group_key(row, year)] = PathwayTotals(**{name: int(getattr(row, name) or 0) for name in wanted})
    return totals
