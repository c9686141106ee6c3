"""GET /indicators: the query's rules (period, as_of, scope, grouping), then the engine."""

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date

from sqlmodel import Session, select

from app.auth.models import Role
from app.catalogue.models import Action, Family, Operator
from app.conventions.models import Convention
from app.core.caller import Caller
from app.core.config import get_settings
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.core.time import today
from app.indicators import secrecy
from app.indicators.engine.compute import compute
from app.indicators.engine.framework import GROUP_KEYS, Scope
from app.indicators.schemas import IndicatorRowRead, IndicatorsRead
from app.periods.service import all_consolidated
from app.reference.indicators import INDICATORS_BY_CODE

# Years a query may name: wide enough for any real programme, narrow enough that a typo
# (0019, 20190) is a 422 rather than a window of centuries.
MIN_YEAR, MAX_YEAR = 2000, 2100


def split_list(values: Iterable[str]) -> list[str]:
    """`a,b` and `?x=a&x=b` alike: the distinct non-empty items, in order."""
    items = [item.strip() for value in values for item in value.split(",")]
    return list(dict.fromkeys(item for item in items if item))


def resolve_period(*, year: int | None, start: date | None, end: date | None) -> tuple[date, date]:
    """The period's first and last days: a `year`, or `from` and `to`."""
    if year is not None:
        if start is not None or end is not None:
            raise InvalidInput("Give either `year` or `from`/`to`, not both", loc=["query", "year"])
        return date(year, 1, 1), date(year, 12, 31)
    if start is None and end is None:
        raise InvalidInput("A period is required: `year`, or `from` and `to`", loc=["query", "year"])
    if start is None or end is None:
        missing = "from" if start is None else "to"
        raise InvalidInput(f"`from` and `to` go together: `{missing}` is missing", loc=["query", missing])
    for name, day in (("from", start), ("to", end)):
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise InvalidInput(f"`{name}` must lie between {MIN_YEAR} and {MAX_YEAR}", loc=["query", name])
    if start > end:
        raise InvalidInput("`from` must not be after `to`", loc=["query", "to"])
    return start, end


def default_as_of(*, session: Session, years: Sequence[int], last_day: date) -> date:
    """Today; but the period's last day when every year of it is consolidated (its figures are
    final, whatever the day they are read)."""
    return last_day if all_consolidated(session, years) else today()


def checked_group_by(values: Iterable[str]) -> list[str]:
    group_by = split_list(values)
    unknown = [key for key in group_by if key not in GROUP_KEYS]
    if unknown:
        raise InvalidInput(
            f"Unknown group_by {', '.join(unknown)}: use any of {', '.join(GROUP_KEYS)}", loc=["query", "group_by"]
        )
    return group_by


def checked_indicators(values: Iterable[str]) -> list[str] | None:
    codes = split_list(values)
    unknown = [code for code in codes if code not in INDICATORS_BY_CODE]
    if unknown:
        raise InvalidInput(
            f"Unknown indicators {', '.join(unknown)} (see /reference/indicators)", loc=["query", "indicators"]
        )
    return codes or None


def check_as_of(as_of: date) -> None:
    """No figures as known on a day that has not come: the same as today's, for a dearer query."""
    if as_of > today():
        raise InvalidInput(f"as_of ({as_of}) is after today ({today()})", loc=["query", "as_of"])


def check_cost(*, start: date, end: date, group_by: Sequence[str]) -> None:
    """Refuse a query whose years × group keys exceed PDI_INDICATORS_MAX_YEAR_GROUPS: each year
    grouped by more keys multiplies the rows and the work (every key: one request ran 18 s)."""
    limit = get_settings().indicators_max_year_groups
    years = end.year - start.year + 1
    cost = years * max(1, len(group_by))
    if cost > limit:
        raise InvalidInput(
            f"This query covers {years} year(s) × {max(1, len(group_by))} group key(s) = {cost}: at most {limit} "
            "(PDI_INDICATORS_MAX_YEAR_GROUPS); narrow the period or group by fewer keys",
            loc=["query", "group_by" if group_by else "from"],
        )


def scope_for(*, session: Session, caller: Caller, scope: Scope) -> Scope:
    """The scope `caller` may read: an operator key reads its own conventions only (a scope
    naming another operator or its convention is a 403, and no scope means its own operator's),
    since figures over a narrow window tell single persons' outcomes; reader, portal and admin
    keys read any scope, aggregates over every convention included."""
    if caller.role != Role.operator:
        return scope
    if scope.operator_id is not None and scope.operator_id != caller.operator_id:
        raise Forbidden("An operator key reads the indicators of its own operator only")
    if scope.convention_id is not None:
        convention = session.get(Convention, scope.convention_id)
        if convention is not None and convention.operator_id != caller.operator_id:
            raise Forbidden("An operator key reads the indicators of its own conventions only")
    return replace(scope, operator_id=caller.operator_id)


def check_scope_exists(*, session: Session, scope: Scope) -> None:
    """404 for a filter naming nothing: an empty result would read as real zeros."""
    if scope.actions:
        known = set(session.exec(select(Action.code).where(Action.code.in_(scope.actions))))
        missing = [code for code in scope.actions if code not in known]
        if missing:
            raise NotFound(f"Action {', '.join(missing)} does not exist")
    if scope.family is not None and session.exec(select(Family.id).where(Family.code == scope.family)).first() is None:
        raise NotFound(f"Family {scope.family} does not exist")
    if scope.operator_id is not None and session.get(Operator, scope.operator_id) is None:
        raise NotFound(f"Operator {scope.operator_id} does not exist")
    if scope.convention_id is not None and session.get(Convention, scope.convention_id) is None:
        raise NotFound(f"Convention {scope.convention_id} does not exist")


def indicators_report(
    *,
    session: Session,
    caller: Caller,
    start: date,
    end: date,
    as_of: date | None,
    scope: Scope,
    group_by: Sequence[str],
    indicators: Sequence[str] | None,
) -> IndicatorsRead:
    if as_of is not None:
        check_as_of(as_of)
    check_cost(start=start, end=min(end, as_of or end), group_by=group_by)
    check_scope_exists(session=session, scope=scope)
    if as_of is None:
        as_of = default_as_of(session=session, years=range(start.year, end.year + 1), last_day=end)
    if as_of < start:
        raise InvalidInput(
            f"as_of ({as_of}) is before the period starts ({start}): nothing is known yet", loc=["query", "as_of"]
        )
    rows = compute(
        session=session, start=start, end=end, as_of=as_of, scope=scope, group_by=group_by, indicators=indicators
    )
    # scope_for keeps an operator key to its own conventions: it sees every cell of them.
    min_size = secrecy.min_cell_size_for(caller, own_conventions_only=True)
    read_rows = []
    for row in rows:
        values, suppressed = secrecy.withhold(row.values, row.counts, min_size)
        read_rows.append(
            IndicatorRowRead(
                group=row.group,
                values=values,
                consolidated=row.consolidated,
                targets=row.targets,
                suppressed=suppressed,
            )
        )
    return IndicatorsRead.model_validate({"as_of": as_of, "from": start, "to": end, "rows": read_rows})
