"""The figures of the bilan's three summary charts, which the XLSX and the HTML both draw:
occupancy per action and year, budget by family and year, exit outcomes by year.

Occupancy comes from the actions' own tables (an action whose table has no occupancy row has
no bar). Budgets and exits come from one more engine call grouped by family and year over the
bilan's scope, since most tables carry exit *rates* only and no table carries a family total.
"""

from dataclasses import dataclass

from sqlmodel import Session

from app.indicators.engine import Scope, compute_for_years
from app.indicators.schemas import BilanRead
from app.reference.indicators import Unit

Value = int | float | None

# The same colours in the workbook's charts and the page's. Side by side (years): blues, then
# contrasting hues. Stacked (parts of a whole: exits): dark green to grey.
SERIES_COLOURS = ("#1b4f72", "#2e86c1", "#85c1e9", "#d35400", "#f0b27a", "#196f3d", "#7dcea0", "#6c3483")
PART_COLOURS = ("#1e6b3a", "#6cc38a", "#b8bec4")


@dataclass(frozen=True)
class Series:
    name: str | int  # a year is a number, so that the XLSX keeps it as one
    values: list[Value]  # one per category; None when not known


@dataclass(frozen=True)
class Chart:
    title: str
    category_title: str  # what the categories are, as a table's first column heading
    categories: list[str | int]
    series: list[Series]
    unit: Unit
    stacked: bool = False  # the series add up (parts of one whole) rather than stand side by side


@dataclass(frozen=True)
class BilanCharts:
    occupancy: Chart
    budget: Chart
    exits: Chart

    def all(self) -> list[Chart]:
        return [self.occupancy, self.budget, self.exits]


def summary_charts(*, session: Session, bilan: BilanRead, action: str | None = None) -> BilanCharts:
    """The three charts of `bilan` (built for every action, or for `action` only)."""
    rows = compute_for_years(
        session=session,
        years=bilan.years,
        as_of=bilan.as_of,
        scope=Scope(actions=(action,)) if action is not None else Scope(),
        group_by=("family",),
        indicators=["budget", "exits", "dynamic_exit_rate", "durable_employment_rate"],
    )
    by_family_and_year = {(row.group["family"], row.group["year"]): row.values for row in rows}
    return BilanCharts(
        occupancy=occupancy_chart(bilan),
        budget=budget_chart(bilan, by_family_and_year),
        exits=exits_chart(bilan, by_family_and_year),
    )


def occupancy_chart(bilan: BilanRead) -> Chart:
    categories: list[str | int] = []
    by_year: dict[int, list[Value]] = {year: [] for year in bilan.years}
    for family in bilan.families:
        for action in family.actions:
            row = next((row for row in action.table if row.indicator == "occupancy_rate"), None)
            if row is None:
                continue
            categories.append(f"{action.number}. {action.name}")
            for year in bilan.years:
                by_year[year].append(row.values.get(str(year)))
    return Chart(
        title="Taux de réalisation par action",
        category_title="Action",
        categories=categories,
        series=[Series(year, values) for year, values in by_year.items()],
        unit=Unit.rate,
    )


def budget_chart(bilan: BilanRead, by_family_and_year: dict[tuple[str, int], dict[str, Value]]) -> Chart:
    """A family's budget of a year is unknown (None) when one of its convention years' is."""
    return Chart(
        title="Budget par famille d'actions",
        category_title="Famille",
        categories=[family.name for family in bilan.families],
        series=[
            Series(year, [by_family_and_year.get((family.code, year), {}).get("budget") for family in bilan.families])
            for year in bilan.years
        ],
        unit=Unit.euros,
    )


def exits_chart(bilan: BilanRead, by_family_and_year: dict[tuple[str, int], dict[str, Value]]) -> Chart:
    """Exits of each year in three parts: to durable employment, other dynamic exits (durable
    ones are dynamic too), and the rest."""
    durable, other_dynamic, other = [], [], []
    for year in bilan.years:
        exits = dynamic = durable_exits = 0
        for family in bilan.families:
            values = by_family_and_year.get((family.code, year), {})
            family_exits = values.get("exits") or 0
            exits += family_exits
            # The engine gives these as shares of the family's exits; the share × the exits is
            # the count it divided (exactly, once rounded: the counts are far below 2**52).
            dynamic += round((values.get("dynamic_exit_rate") or 0) * family_exits)
            durable_exits += round((values.get("durable_employment_rate") or 0) * family_exits)
        durable.append(durable_exits)
        other_dynamic.append(dynamic - durable_exits)
        other.append(exits - dynamic)
    return Chart(
        title="Sorties par année",
        category_title="Année",
        categories=list(bilan.years),
        series=[
            Series("Emploi durable", durable),
            Series("Autres sorties dynamiques", other_dynamic),
            Series("Autres sorties", other),
        ],
        unit=Unit.count,
        stacked=True,
    )
