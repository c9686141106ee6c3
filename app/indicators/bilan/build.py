"""The bilan: the document's structure (families, actions, operators, one table per action and
its bilan qualitatif) regenerated from the catalogue, the engine and the assessments, for some
years as known on an as-of date."""

from collections import defaultdict
from datetime import date

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from app.assessments.service import latest_of_years
from app.catalogue.models import Action, Family, Operator
from app.conventions.models import BudgetKind, Convention, ConventionYear
from app.core.errors import InvalidInput, NotFound
from app.indicators import secrecy
from app.indicators.bilan.charts import CHART_INDICATORS, BilanCharts, summary_charts
from app.indicators.engine.compute import compute_for_years
from app.indicators.engine.framework import Scope
from app.indicators.engine.totals import GroupTotals, values_from
from app.indicators.schemas import (
    BilanActionRead,
    BilanAssessmentRead,
    BilanFamilyRead,
    BilanRead,
    BilanTableRowRead,
)
from app.indicators.service import MAX_YEAR, MIN_YEAR, check_as_of, default_as_of
from app.periods.service import consolidated_years
from app.reference.indicators import INDICATORS_BY_CODE

MAX_BILAN_YEARS = 10
FORECAST_BUDGET_LABEL = "Budget prévisionnel"


def parse_years(text: str) -> list[int]:
    """`2018,2019,2020` → [2018, 2019, 2020]: 1 to 10 distinct years, sorted."""
    items = [item.strip() for item in text.split(",")]
    # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() refuses.
    if not all(item.isascii() and item.isdigit() for item in items):
        raise InvalidInput("`years` is a comma-separated list of years, e.g. 2018,2019,2020", loc=["query", "years"])
    years = sorted({int(item) for item in items})
    if len(years) > MAX_BILAN_YEARS:
        raise InvalidInput(f"A bilan covers at most {MAX_BILAN_YEARS} years", loc=["query", "years"])
    out_of_range = [year for year in years if not MIN_YEAR <= year <= MAX_YEAR]
    if out_of_range:
        raise InvalidInput(f"Years must lie between {MIN_YEAR} and {MAX_YEAR}", loc=["query", "years"])
    return years


def build_bilan(
    *,
    session: Session,
    years: list[int],
    as_of: date | None = None,
    action: str | None = None,
    min_size: int = 0,
    own_operator_id: int | None = None,
) -> BilanRead:
    """The bilan of `years` (as known on `as_of`; default today, or the last year's 31 December
    when every year is consolidated), for every action or just one; the figures resting on 1 to
    `min_size` − 1 persons withheld (app/indicators/secrecy.py) but in the actions whose every
    convention is `own_operator_id`'s."""
    bilan, _figures = _build(
        session=session,
        years=years,
        as_of=as_of,
        action=action,
        extra=(),
        min_size=min_size,
        own_operator_id=own_operator_id,
    )
    return bilan


def build_bilan_with_charts(
    *,
    session: Session,
    years: list[int],
    as_of: date | None = None,
    action: str | None = None,
    min_size: int = 0,
    own_operator_id: int | None = None,
) -> tuple[BilanRead, BilanCharts]:
    """The bilan and its summary charts (for the XLSX, HTML and PDF), from one engine run."""
    bilan, figures = _build(
        session=session,
        years=years,
        as_of=as_of,
        action=action,
        extra=CHART_INDICATORS,
        min_size=min_size,
        own_operator_id=own_operator_id,
    )
    return bilan, summary_charts(bilan, figures)


def _build(
    *,
    session: Session,
    years: list[int],
    as_of: date | None,
    action: str | None,
    extra: tuple[str, ...],
    min_size: int = 0,
    own_operator_id: int | None = None,
) -> tuple[BilanRead, dict[tuple[str, int], dict]]:
    """The bilan, and the engine's figures by (action code, year): its tables' and `extra`."""
    if as_of is not None:
        check_as_of(as_of)
    else:
        as_of = default_as_of(session=session, years=years, last_day=date(max(years), 12, 31))
    unknown = [year for year in years if date(year, 1, 1) > as_of]
    if unknown:
        raise InvalidInput(
            f"Nothing is known of {', '.join(map(str, unknown))} on {as_of}: choose a later as_of or earlier years",
            loc=["query", "as_of"],
        )
    actions_query = select(Action, Family).join(Family, Family.id == Action.family_id)
    if action is not None:
        actions_query = actions_query.where(Action.code == action)
    pairs = session.exec(actions_query.order_by(Family.position, Family.code, Action.number)).all()
    if action is not None and not pairs:
        raise NotFound(f"Action {action} does not exist")

    action_ids = [action_row.id for action_row, _family in pairs]
    operators = _operators_by_action(session, action_ids=action_ids, years=years)
    budget_kinds = _budget_kinds(session, action_ids=action_ids, years=years)
    forecast_only = {
        action_id
        for action_id in action_ids
        if set().union(*(budget_kinds.get((action_id, year), set()) for year in years)) == {BudgetKind.forecast.value}
    }
    assessments = latest_of_years(session=session, action_ids=action_ids, years=years)
    closed = consolidated_years(session)
    consolidated = {str(year): year in closed for year in years}

    wanted = sorted(
        {code for action_row, _ in pairs for code in action_row.indicators if code in INDICATORS_BY_CODE} | set(extra)
    )
    values: dict[tuple[str, int], dict] = {}
    secret: dict[tuple[str, int], list[str]] = {}  # the codes withheld, by (action code, year)
    # An operator sees every cell of the actions whose conventions are all its own.
    own_actions = (
        _actions_of_operator_alone(session, action_ids=action_ids, operator_id=own_operator_id)
        if own_operator_id is not None and min_size
        else set()
    )
    codes_of = {action_row.id: action_row.code for action_row, _ in pairs}
    own_codes = {codes_of[action_id] for action_id in own_actions}
    if wanted:
        scope = Scope(actions=(action,)) if action is not None else Scope()
        for row in compute_for_years(
            session=session,
            years=years,
            as_of=as_of,
            scope=scope,
            group_by=("action",),
            indicators=wanted,
            every_group=False,  # a missing (action, year) reads as `nothing` below
        ):
            key = (row.group["action"], row.group["year"])
            size = 0 if key[0] in own_codes else min_size
            values[key], secret[key] = secrecy.withhold(row.values, row.counts, size)
    nothing = values_from(GroupTotals(), wanted)

    families: dict[int, BilanFamilyRead] = {}
    for action_row, family in pairs:
        table = []
        for code in action_row.indicators:
            label = INDICATORS_BY_CODE[code].label if code in INDICATORS_BY_CODE else code
            if code == "budget" and action_row.id in forecast_only:
                label = FORECAST_BUDGET_LABEL
            table.append(
                BilanTableRowRead(
                    indicator=code,
                    label=label,
                    values={
                        # An action with no convention year in a year has no data for it: NC, not 0.
                        str(year): values.get((action_row.code, year), nothing).get(code)
                        if (action_row.id, year) in budget_kinds
                        else None
                        for year in years
                    },
                    suppressed=[
                        str(year)
                        for year in years
                        if (action_row.id, year) in budget_kinds and code in secret.get((action_row.code, year), ())
                    ],
                )
            )
        assessment = assessments.get(action_row.id)
        family_read = families.setdefault(family.id, BilanFamilyRead(code=family.code, name=family.name, actions=[]))
        family_read.actions.append(
            BilanActionRead(
                code=action_row.code,
                number=action_row.number,
                name=action_row.name,
                description=action_row.description,
                operators=operators.get(action_row.id, []),
                consolidated=consolidated,
                table=table,
                assessment=BilanAssessmentRead(year=assessment.year, points=list(assessment.points))
                if assessment is not None
                else None,
            )
        )
    bilan = BilanRead(years=years, as_of=as_of, consolidated=consolidated, families=list(families.values()))
    figures = {
        (action_row.code, year): values.get((action_row.code, year), nothing)
        for action_row, _ in pairs
        for year in years
    }
    return bilan, figures


def _operators_by_action(session: Session, *, action_ids: list[int], years: list[int]) -> dict[int, list[str]]:
    """Names of the operators whose conventions run during one of the years, in the order their
    conventions were recorded (for the seed: the order in which the document lists them)."""
    if not action_ids:
        return {}
    meets_a_year = or_(
        *(and_(Convention.start_on <= date(year, 12, 31), Convention.end_on >= date(year, 1, 1)) for year in years)
    )
    rows = session.exec(
        select(Convention.action_id, Operator.name)
        .join(Operator, Operator.id == Convention.operator_id)
        .where(Convention.action_id.in_(action_ids), meets_a_year)
        .order_by(Convention.action_id, Convention.id)
    )
    names: dict[int, list[str]] = defaultdict(list)
    for action_id, name in rows:
        if name not in names[action_id]:
            names[action_id].append(name)
    return names


def _actions_of_operator_alone(session: Session, *, action_ids: list[int], operator_id: int) -> set[int]:
    """The actions among `action_ids` whose every convention, whatever its years, is `operator_id`'s."""
    if not action_ids:
        return set()
    operators: dict[int, set[int]] = defaultdict(set)
    rows = session.exec(
        select(Convention.action_id, Convention.operator_id).where(Convention.action_id.in_(action_ids)).distinct()
    )
    for action_id, convention_operator in rows:
        operators[action_id].add(convention_operator)
    return {action_id for action_id, ids in operators.items() if ids == {operator_id}}


def _budget_kinds(session: Session, *, action_ids: list[int], years: list[int]) -> dict[tuple[int, int], set[str]]:
    """(action id, year) → the budget kinds of its convention years: the action-years that have
    data at all, and those whose budgets are all forecasts (the document then says "Budget
    prévisionnel")."""
    if not action_ids:
        return {}
    rows = session.exec(
        select(Convention.action_id, ConventionYear.year, ConventionYear.budget_kind)
        .join(Convention, Convention.id == ConventionYear.convention_id)
        .where(Convention.action_id.in_(action_ids), ConventionYear.year.in_(years))
        .distinct()
    )
    kinds: dict[tuple[int, int], set[str]] = defaultdict(set)
    for action_id, year, kind in rows:
        kinds[(action_id, year)].add(kind)
    return kinds
