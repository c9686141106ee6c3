"""The figures of the bilan's three summary charts, which the XLSX and the HTML both draw:
occupancy per action and year, budget by family and year, exit outcomes by year.

Occupancy comes from the actions' own tables (an action whose table has no occupancy row has
no bar). Budgets and exits are the families' totals of their actions' figures, which the bilan
asks of the engine together with its tables' (CHART_INDICATORS): most tables carry exit *rates*
only, and none a family total.
"""

from dataclasses import dataclass

from app.indicators.known import total
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


# The figures the budget and exits charts add up per family, asked of the engine with the tables'.
CHART_INDICATORS = ("budget", "exits", "dynamic_exit_rate", "durable_employment_rate")


def summary_charts(bilan: BilanRead, by_action_and_year: dict[tuple[str, int], dict[str, Value]]) -> BilanCharts:
    """The three charts of `bilan`, from its actions' figures (CHART_INDICATORS among them) by
    (action code, year): the families' totals are their actions' (NC when one is)."""
    by_family_and_year = family_figures(bilan, by_action_and_year)
    return BilanCharts(
        occupancy=occupancy_chart(bilan),
        budget=budget_chart(bilan, by_family_and_year),
        exits=exits_chart(bilan, by_family_and_year),
    )


def family_figures(
    bilan: BilanRead, by_action_and_year: dict[tuple[str, int], dict[str, Value]]
) -> dict[tuple[str, int], dict[str, Value]]:
    """Per (family code, year): its actions' budgets, exits, dynamic and durable exits added up.
    The engine gives the two kinds of exits as shares of the action's exits; the share × the
    exits is the count it divided (exactly, once rounded: the counts are far below 2**52)."""

    def count(values: dict[str, Value], rate: str) -> Value:
        exits = values.get("exits")
        if not exits:
            return exits  # 0 exits, 0 of each kind; or not known
        share = values.get(rate)
        return None if share is None else round(share * exits)

    figures = {}
    for family in bilan.families:
        for year in bilan.years:
            actions = [by_action_and_year.get((action.code, year), {}) for action in family.actions]
            figures[(family.code, year)] = {
                "budget": total(values.get("budget") for values in actions),
                "exits": total(values.get("exits", 0) for values in actions),
                "dynamic_exits": total(count(values, "dynamic_exit_rate") for values in actions),
                "durable_exits": total(count(values, "durable_employment_rate") for values in actions),
            }
    return figures


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
    """A family's budget of a year is NC when one of its actions' is (a convention year missing,
    or one without a budget)."""
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
    ones are dynamic too), and the rest; a part is NC when a family's is."""

    def year_total(year: int, figure: str) -> Value:
        return total(by_family_and_year.get((family.code, year), {}).get(figure, 0) for family in bilan.families)

    durable, other_dynamic, other = [], [], []
    for year in bilan.years:
        exits, dynamic, durable_exits = (year_total(year, f) for f in ("exits", "dynamic_exits", "durable_exits"))
        durable.append(durable_exits)
        other_dynamic.append(None if dynamic is None or durable_exits is None else dynamic - durable_exits)
        other.append(None if exits is None or dynamic is None else exits - dynamic)
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
