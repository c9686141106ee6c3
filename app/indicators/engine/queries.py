"""The engine's other per-group queries: convention years, activity records, diagnostics, the
contrat d'engagement's hours; and the convention years' targets."""

from sqlalchemy import Date, Integer, and_, case, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.conventions.models import Convention, ConventionYear
from app.indicators.engine.framework import Frame, Query, without_territory
from app.indicators.engine.totals import ConventionTotals, DiagnosticTotals, HoursTotals
from app.indicators.known import counted_total
from app.indicators.sql import days_between, greatest, least
from app.pathways import engagement, weekly_hours
from app.pathways.models import ActivityRecord, BeneficiaryEngagement, Diagnostic, Pathway
from app.reference.diagnostic_dimensions import DIMENSION_CODES
from app.reference.indicators import BARRIER_RATE_PREFIX


def convention_totals(session: Session, query: Query) -> dict[tuple, ConventionTotals]:
    """Per group without territory: the figures of the conventions whose dates meet W, each by
    its line of the year. A convention that runs in a year of W without a line for that year has
    unknown places, budget and planned months there, so the group's totals are NC (SPEC C13)."""
    slices = [(w.year, year, first, last) for w in query.windows for year, first, last in w.year_slices()]
    frame = Frame(slices, {"window_year": Integer(), "year": Integer(), "first": Date(), "last": Date()})
    cy = ConventionYear
    overlap_end = least(frame.c["last"], Convention.end_on)
    overlap_start = greatest(frame.c["first"], Convention.start_on)
    overlap_days = case((overlap_end >= overlap_start, days_between(overlap_end, overlap_start) + 1), else_=0)

    keyed = without_territory(query)
    key_columns = keyed.key_columns()
    statement = select(
        *key_columns,
        *([frame.c["window_year"].label("window_year")] if frame.many else []),
        func.count().label("parts"),
        func.count(cy.convention_id).label("lines"),
        func.sum(cy.places).label("places"),
        func.count(cy.places).label("known_places"),
        func.count(cy.budget).label("known_budgets"),
        func.sum(cy.budget).label("budget"),
        func.count(cy.fse_amount).label("known_fse"),
        func.sum(cy.fse_amount).label("budget_fse"),
        func.coalesce(func.sum(func.coalesce(cy.places, 0) * cy.months_per_place * overlap_days), 0).label("planned"),
    ).select_from(Convention)
    statement = keyed.join_catalogue(statement)
    statement = statement.where(*keyed.scope_filters())
    # A convention counts in a slice when it has a line for the slice's year, or when it runs
    # then (its dates meet the slice) and so should have one.
    has_line = aliased(ConventionYear)
    runs = and_(Convention.start_on <= frame.c["last"], Convention.end_on >= frame.c["first"])
    lined = select(has_line.id).where(has_line.convention_id == Convention.id, has_line.year == frame.c["year"])
    statement = frame.attach(statement, or_(runs, lined.exists()))
    statement = statement.outerjoin(cy, and_(cy.convention_id == Convention.id, cy.year == frame.c["year"]))
    group_columns = keyed.key_expressions()
    if frame.many:
        group_columns.append(frame.c["window_year"])
    statement = statement.group_by(*group_columns)

    totals: dict[tuple, ConventionTotals] = {}
    for row in session.execute(statement):
        year = row.window_year if frame.many else query.windows[0].year
        lines, parts = int(row.lines), int(row.parts)
        totals[keyed.group_key(row, year)] = ConventionTotals(
            # A line without places (funded by budget alone) adds none; a missing line is unknown.
            places=None if lines < parts or not row.known_places else int(row.places),
            budget=counted_total(row.budget, known=int(row.known_budgets), expected=parts),
            budget_fse=counted_total(row.budget_fse, known=int(row.known_fse), expected=parts),
            planned_place_days_x12=int(row.planned) if lines == parts else None,
            lines=lines,
        )
    return totals


def activity_totals(session: Session, query: Query) -> dict[tuple, dict[str, int]]:
    """Per group without territory: Σ quantity of each metric reported in W."""
    windows = query.windows
    frame = Frame([(w.year, w.start, w.end) for w in windows], {"year": Integer(), "ws": Date(), "we": Date()})
    record = ActivityRecord
    keyed = without_territory(query)
    key_columns = keyed.key_columns()
    statement = select(
        *key_columns,
        *([frame.c["year"].label("window_year")] if frame.many else []),
        record.metric.label("metric"),
        func.sum(record.quantity).label("quantity"),
    ).select_from(record)
    statement = statement.join(Convention, Convention.id == record.convention_id)
    statement = keyed.join_catalogue(statement)
    first_day, last_day = min(w.start for w in windows), max(w.end for w in windows)
    statement = statement.where(*keyed.scope_filters(), record.recorded_on >= first_day, record.recorded_on <= last_day)
    statement = frame.attach(statement, and_(record.recorded_on >= frame.c["ws"], record.recorded_on <= frame.c["we"]))
    group_columns = [*keyed.key_expressions(), record.metric]
    if frame.many:
        group_columns.append(frame.c["year"])
    statement = statement.group_by(*group_columns)

    totals: dict[tuple, dict[str, int]] = {}
    for row in session.execute(statement):
        year = row.window_year if frame.many else windows[0].year
        totals.setdefault(keyed.group_key(row, year), {})[row.metric] = int(row.quantity)
    return totals


def diagnostic_totals(session: Session, query: Query) -> dict[tuple, DiagnosticTotals]:
    """Per group (territory: the pathway's): the diagnostics assessed in W, and per dimension
    those that mark it a barrier. Run whenever rows are grouped, a group with a diagnostic in W
    having something in W, as for the other queries; otherwise only when a barrier rate is asked."""
    wanted = any(code.startswith(BARRIER_RATE_PREFIX) for code in query.indicators)
    if not wanted and set(query.keys) <= {"year"}:
        return {}
    windows = query.windows
    frame = Frame([(w.year, w.start, w.end) for w in windows], {"year": Integer(), "ws": Date(), "we": Date()})
    d = Diagnostic.__table__.c
    p = Pathway.__table__.c
    statement = select(
        *query.key_columns(p),
        *([frame.c["year"].label("window_year")] if frame.many else []),
        func.count().label("diagnostics"),
        *(func.count().filter(d[code] == "barrier").label(code) for code in DIMENSION_CODES),
    ).select_from(Diagnostic.__table__)
    statement = statement.join(Pathway.__table__, p.id == d.pathway_id)
    statement = statement.join(Convention, Convention.id == p.convention_id)
    statement = query.join_catalogue(statement)
    first_day, last_day = min(w.start for w in windows), max(w.end for w in windows)
    statement = statement.where(*query.scope_filters(), d.assessed_on >= first_day, d.assessed_on <= last_day)
    if query.scope.territory is not None:
        statement = statement.where(p.territory == query.scope.territory)
    statement = frame.attach(statement, and_(d.assessed_on >= frame.c["ws"], d.assessed_on <= frame.c["we"]))
    group_columns = query.key_expressions(p)
    if frame.many:
        group_columns.append(frame.c["year"])
    if group_columns:
        statement = statement.group_by(*group_columns)
    totals: dict[tuple, DiagnosticTotals] = {}
    for row in session.execute(statement):
        if not row.diagnostics:
            continue  # no group: the one row of an aggregate over nothing
        year = row.window_year if frame.many else windows[0].year
        totals[query.group_key(row, year)] = DiagnosticTotals(
            diagnostics=int(row.diagnostics), barriers={code: int(getattr(row, code)) for code in DIMENSION_CODES}
        )
    return totals


HOURS_INDICATORS = frozenset({"persons_in_progress", "mean_weekly_hours", "persons_below_target", "share_below_target"})


def hours_totals(session: Session, query: Query) -> dict[tuple, HoursTotals]:
    """Per group, on each window's last day D (SPEC C11): the persons with a pathway in progress
    on D in the group, each with the effective weekly hours of all their pathways in progress on D
    (app/pathways/weekly_hours.py) and their target on D (app/pathways/engagement.py). One query
    per window: the persons' totals, their (group, person) pairs, grouped."""
    if not HOURS_INDICATORS & set(query.indicators):
        return {}
    default = engagement.default_target()
    totals: dict[tuple, HoursTotals] = {}
    for window in query.windows:
        day = window.end
        in_progress = (
            select(Pathway.person_key.label("person_key"), weekly_hours.effective_sql().label("hours"))
            .join(Convention, Convention.id == Pathway.convention_id)
            .where(engagement.in_progress_sql(day))
            .subquery("in_progress")
        )
        per_person = (
            select(
                in_progress.c.person_key,
                func.sum(in_progress.c.hours).label("hours"),
                (func.count() - func.count(in_progress.c.hours)).label("unknown"),
            )
            .group_by(in_progress.c.person_key)
            .subquery("per_person")
        )
        pairs = select(*query.key_columns(Pathway), Pathway.person_key.label("person_key")).distinct()
        pairs = query.join_catalogue(
            pairs.select_from(Pathway).join(Convention, Convention.id == Pathway.convention_id)
        )
        pairs = pairs.where(*query.scope_filters(), engagement.in_progress_sql(day))
        if query.scope.territory is not None:
            pairs = pairs.where(Pathway.territory == query.scope.territory)
        pairs = pairs.subquery("pairs")
        target_row = BeneficiaryEngagement.__table__.c
        known = per_person.c.unknown == 0
        below = and_(known, per_person.c.hours < engagement.target_sql(target_row, day, default))
        keys = [pairs.c[f"key_{key}"] for key in query.sql_keys()]
        statement = (
            select(
                *keys,
                func.count().label("persons"),
                func.count().filter(known).label("counted"),
                func.sum(per_person.c.hours).filter(known).label("hours"),
                func.count().filter(below).label("below"),
            )
            .select_from(pairs)
            .join(per_person, per_person.c.person_key == pairs.c.person_key)
            .outerjoin(BeneficiaryEngagement.__table__, target_row.beneficiary_id == pairs.c.person_key)
        )
        if keys:
            statement = statement.group_by(*keys)
        for row in session.execute(statement):
            if not row.persons:
                continue  # no group: the one row of an aggregate over nothing
            totals[query.group_key(row, window.year)] = HoursTotals(
                persons=int(row.persons), counted=int(row.counted), hours=float(row.hours or 0), below=int(row.below)
            )
    return totals


def convention_targets(session: Session, *, convention_ids: set[int], years: set[int]) -> dict[tuple[int, int], dict]:
    if not convention_ids or not years:
        return {}
    rows = session.execute(
        select(ConventionYear.convention_id, ConventionYear.year, ConventionYear.targets).where(
            ConventionYear.convention_id.in_(sorted(convention_ids)),
            ConventionYear.year.in_(sorted(years)),
        )
    )
    return {(row.convention_id, row.year): row.targets or {} for row in rows}
