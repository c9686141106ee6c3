"""The engine's query framework: the scope and windows of a computation, the window bounds as SQL
(`Frame`), and what every per-group query shares (`Query`: scope filters, group keys)."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import literal, select, union_all

from app.catalogue.models import Action, Family
from app.conventions.models import Convention
from app.reference.indicators import INDICATORS

# Group keys, valued by action code, family code, operator id, convention id, territory, year.
GROUP_KEYS: tuple[str, ...] = ("action", "family", "operator", "convention", "territory", "year")
INDICATOR_CODES: tuple[str, ...] = tuple(indicator.code for indicator in INDICATORS)

GroupValue = str | int | None


@dataclass(frozen=True)
class Scope:
    """Which pathways and convention years count; an empty field does not filter."""

    actions: tuple[str, ...] = ()  # action codes
    family: str | None = None  # family code
    operator_id: int | None = None
    convention_id: int | None = None
    territory: str | None = None  # recorded on each pathway; restricts pathways only


@dataclass(frozen=True)
class Window:
    """A stretch of days computed as one: W, or one calendar year's part of it (`year` set)."""

    year: int | None
    start: date
    end: date

    def year_slices(self) -> list[tuple[int, date, date]]:
        """(year, first day, last day) of the window's part in each calendar year it meets."""
        return [
            (year, max(self.start, date(year, 1, 1)), min(self.end, date(year, 12, 31)))
            for year in range(self.start.year, self.end.year + 1)
        ]


class Frame:
    """Rows of constants (window bounds) as SQL: bound literals when there is one row, so the
    predicates stay index-friendly; otherwise a small derived table that the query joins."""

    def __init__(self, rows: list[tuple], columns: dict[str, Any]):
        self.many = len(rows) > 1
        if self.many:
            selects = [
                select(*(literal(value, type_).label(name) for value, (name, type_) in zip(row, columns.items())))
                for row in rows
            ]
            self.table = union_all(*selects).subquery("frame")
            self.c = {name: self.table.c[name] for name in columns}
        else:
            self.table = None
            self.c = {name: literal(value, type_) for value, (name, type_) in zip(rows[0], columns.items())}

    def attach(self, statement, on):
        """Join the frame on `on`, or just filter on it when the frame is constants."""
        if self.many:
            return statement.join(self.table, on)
        return statement.where(on)


class Query:
    """What the three queries share: scope filters and group columns over Convention.

    Rows are grouped by ids (action, family, operator, convention), never by codes: PostgreSQL
    sorts the pathway rows by their group before it counts distinct persons, and a sort on text
    keys costs several times one on integers. `group_key` turns the ids into codes afterwards."""

    def __init__(
        self,
        *,
        scope: Scope,
        keys: tuple[str, ...],
        windows: list[Window],
        indicators: tuple[str, ...] = INDICATOR_CODES,
        code_of: dict[str, dict[int, str]] | None = None,
        every_group: bool = True,
    ):
        self.scope = scope
        self.keys = keys
        self.windows = windows
        self.indicators = indicators  # the indicator codes asked for
        self.code_of = code_of or {}  # "action"/"family" → id → code
        # Whether a group with nothing but a prescription, an answer or an ending in W must have
        # its row (GET /indicators lists every group with something in W); a caller that reads a
        # missing group as empty (the bilan) lets the pathway query read only the pathways its
        # figures need.
        self.every_group = every_group
        self.needs_family = bool(scope.family)
        self.needs_action = bool(scope.actions) or self.needs_family or "family" in keys

    def sql_keys(self) -> list[str]:
        # `year` comes from the frame (several windows) or from Python (one window).
        return [key for key in self.keys if key != "year"]

    def key_expressions(self, pathway=None) -> list[Any]:
        """The SQL of each key; `pathway` is the columns of the pathways read (territory is theirs)."""
        columns = {
            "action": Convention.action_id,
            "family": Action.family_id,
            "operator": Convention.operator_id,
            "convention": Convention.id,
            "territory": pathway.territory if pathway is not None else None,
        }
        return [columns[key] for key in self.sql_keys()]

    def key_columns(self, pathway=None) -> list[Any]:
        expressions = self.key_expressions(pathway)
        return [expression.label(f"key_{key}") for key, expression in zip(self.sql_keys(), expressions)]

    def join_catalogue(self, statement):
        if self.needs_action:
            statement = statement.join(Action, Action.id == Convention.action_id)
        if self.needs_family:
            statement = statement.join(Family, Family.id == Action.family_id)
        return statement

    def scope_filters(self) -> list[Any]:
        filters = []
        if self.scope.actions:
            filters.append(Action.code.in_(sorted(self.scope.actions)))
        if self.scope.family is not None:
            filters.append(Family.code == self.scope.family)
        if self.scope.operator_id is not None:
            filters.append(Convention.operator_id == self.scope.operator_id)
        if self.scope.convention_id is not None:
            filters.append(Convention.id == self.scope.convention_id)
        return filters

    def group_key(self, row, year: int | None) -> tuple:
        """The row's key tuple in `keys` order, actions and families by their codes."""
        values = {key: getattr(row, f"key_{key}") for key in self.sql_keys()}
        for key, codes in self.code_of.items():
            if key in values:
                values[key] = codes[values[key]]
        if "year" in self.keys:
            values["year"] = year
        return tuple(values[key] for key in self.keys)


def without_territory(query: Query) -> Query:
    """The same query without its territory key, for the tables that have no territory."""
    return Query(
        scope=query.scope,
        keys=tuple(key for key in query.keys if key != "territory"),
        windows=query.windows,
        indicators=query.indicators,
        code_of=query.code_of,
        every_group=query.every_group,
    )
