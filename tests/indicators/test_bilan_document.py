"""The demo data set reproduces the document's tables (shared/seeds/bilan-pdi-2019-2021.md).

EXPECTED is transcribed from the document by hand, independently of seed/demo/: action number →
indicator code → {year: value}, rates as the printed whole percent, euros, None for "NC", and only
the years and rows the document prints. The bilan endpoint must show every one of them on the
seed catalogue + `generate_demo` at scale 1; a plain Python reading of SPEC's definitions over the
stored rows must agree (a second, independent check of the demo itself).
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from app.catalogue.models import Action
from app.conventions.models import Convention, ConventionYear
from app.core.db import PdiSession
from app.indicators.bilan.build import build_bilan_with_charts
from app.indicators.bilan.formats import french
from app.pathways.models import ActivityRecord, Pathway
from app.periods.models import Period, PeriodStatus
from app.reference.exit_reasons import COMPLETED_REASONS, DURABLE_EMPLOYMENT_REASONS, DYNAMIC_REASONS
from app.reference.indicators import Unit
from seed.demo import generate_demo

pytestmark = pytest.mark.slow

YEARS = (2018, 2019, 2020)
AS_OF = date(2020, 12, 31)

EXPECTED: dict[int, dict[str, dict[int, int | None]]] = {
    1: {  # Public seul sans enfant
        "persons_present": {2018: 1759, 2019: 1475},
        "budget": {2018: 450000, 2019: 450000},
    },
    2: {  # Public travailleur non salarié
        "places_funded": {2018: 230, 2019: 200, 2020: 200},
        "budget": {2018: 69000, 2019: 60000, 2020: 60000},
        "persons_present": {2018: 301, 2019: 284, 2020: 204},
        "occupancy_rate": {2018: 85, 2019: 86, 2020: 96},
        "exits": {2018: 89, 2019: 128, 2020: 76},
    },
    3: {  # Depart'Parcours
        "places_funded": {2018: 660, 2019: 1120, 2020: 1120},
        "budget": {2018: 396000, 2019: 672000, 2020: 672000},
        "persons_present": {2018: 775, 2019: 901, 2020: 548},
        "occupancy_rate": {2018: 114, 2019: 76, 2020: 88},
        "completion_rate": {2018: 93, 2019: 92, 2020: 91},
    },
    4: {  # Depart'Projet
        "places_funded": {2019: 501, 2020: 675},
        "budget": {2019: 300000, 2020: 339000},
        "persons_present": {2019: 524, 2020: 442},
        "occupancy_rate": {2019: 84, 2020: 117},
        "dynamic_exit_rate": {2019: 62, 2020: 70},
        "durable_employment_rate": {2019: 15, 2020: 10},
    },
    5: {  # Depart'Mobilité
        "places_funded": {2018: 400, 2019: 400, 2020: 400},
        "budget": {2018: 180000, 2019: 180000, 2020: 180000},
        "budget_fse": {2018: 90000, 2019: 90000, 2020: 90000},
        "persons_present": {2018: 291, 2019: 316, 2020: 295},
        "occupancy_rate": {2018: 56, 2019: 79, 2020: 93},
        "vehicle_rental_days": {2018: 636, 2019: 1858, 2020: 1696},
        "licence_registrations": {2018: None, 2019: 24, 2020: 23},
        "licences_obtained": {2018: None, 2019: 11, 2020: 13},
    },
    6: {  # Depart'Numérique
        "places_funded": {2018: 200, 2019: 200, 2020: 200},
        "budget": {2018: None, 2019: 92694, 2020: 82248},
        "budget_fse": {2018: None, 2019: 46347, 2020: 41124},
        "persons_present": {2018: 102, 2019: 124, 2020: 52},
        "occupancy_rate": {2018: 56, 2019: 67, 2020: 76},
    },
    7: {  # Logement
        "places_funded": {2018: 15, 2019: 15, 2020: 15},
        "budget": {2018: 65700, 2019: 65700, 2020: 65700},
        "persons_present": {2018: 17, 2019: 16, 2020: 15},
        "occupancy_rate": {2018: 98, 2019: 98, 2020: 129},
    },
    8: {  # ACI
        "places_funded": {2018: 319, 2019: 319, 2020: 319},
        "budget": {2018: 1978407, 2019: 1992483, 2020: 1992188},
        "budget_fse": {2018: 129483, 2019: 143559, 2020: 143264},
        "occupancy_rate": {2018: 97, 2019: 94, 2020: 108},
        "dynamic_exit_rate": {2018: 51, 2019: 53, 2020: 47},
        "durable_employment_rate": {2018: 12, 2019: 13, 2020: 11},
    },
    9: {  # AI / ETTI
        "places_funded": {2018: 101, 2019: 100, 2020: 100},
        "budget": {2018: 69900, 2019: 70000, 2020: 70000},
        "hours_threshold_reached": {2018: 69, 2019: 51, 2020: None},
        "dynamic_exit_rate": {2018: 64, 2019: 55, 2020: 43},
        "durable_employment_rate": {2018: 18, 2019: 17, 2020: 11},
    },
    10: {  # Depart'Emploi
        "places_funded": {2018: 607, 2019: 640, 2020: 593},
        "budget": {2018: 628000, 2019: 750000, 2020: 750000},
        "budget_fse": {2018: 300000, 2019: 300000, 2020: 300000},
        "persons_present": {2018: 437, 2019: 513, 2020: 455},
        "occupancy_rate": {2018: 46, 2019: 56, 2020: 109},
        "dynamic_exit_rate": {2018: 48, 2019: 55, 2020: 52},
        "durable_employment_rate": {2018: 16, 2019: 21, 2020: 16},
    },
    11: {  # Depart'Créa
        "places_funded": {2018: 144, 2019: 144, 2020: 144},
        "budget": {2018: 72000, 2019: 72000, 2020: 72000},
        "persons_present": {2018: 138, 2019: 162, 2020: 122},
        "occupancy_rate": {2018: 77, 2019: 76, 2020: 130},
        "dynamic_exit_rate": {2018: 57, 2019: 32, 2020: 41},
        "business_creation_rate": {2018: 53, 2019: 24, 2020: 32},
    },
}
RATES = {"occupancy_rate", "dynamic_exit_rate", "durable_employment_rate", "business_creation_rate", "completion_rate"}
CONSOLIDATED = {2018: True, 2019: True, 2020: False}


def as_printed(indicator: str, value):
    """A figure as the document prints it: a rate as its whole percent (half up), euros whole."""
    if value is None:
        return None
    if indicator in RATES:
        return int((Decimal(repr(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if isinstance(value, float | Decimal) and Decimal(str(value)) == int(value):
        return int(value)
    return value


def mismatches(computed: dict[int, dict[str, dict[int, object]]]) -> list[str]:
    problems = []
    for number, rows in EXPECTED.items():
        for indicator, years in rows.items():
            for year, expected in years.items():
                got = computed.get(number, {}).get(indicator, {}).get(year, "missing")
                got = got if got == "missing" else as_printed(indicator, got)
                if got != expected:
                    problems.append(f"action {number} {indicator} {year}: expected {expected}, got {got}")
    return problems


@pytest.fixture(scope="module")
def session(engine) -> Iterator[Session]:
    """This module's `session` (it replaces conftest's): the demo data set is generated once, in a
    transaction rolled back after the module's tests, which only read it."""
    connection = engine.connect()
    transaction = connection.begin()
    session = PdiSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    generate_demo(session=session)
    yield session
    session.close()
    transaction.rollback()
    connection.close()


def test_the_bilan_shows_every_figure_of_the_document(client, admin):
    response = client.get("/api/v1/bilan", params={"years": "2018,2019,2020", "as_of": "2020-12-31"}, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    computed: dict[int, dict[str, dict[int, object]]] = {}
    consolidated = {}
    for family in body["families"]:
        for action in family["actions"]:
            computed[action["number"]] = {
                row["indicator"]: {int(year): value for year, value in row["values"].items()} for row in action["table"]
            }
            consolidated[action["number"]] = {int(year): flag for year, flag in action["consolidated"].items()}
    assert mismatches(computed) == []
    assert set(computed) >= set(EXPECTED)
    for number in EXPECTED:
        assert consolidated[number] == CONSOLIDATED, f"action {number}"


def test_the_stored_rows_give_the_document_figures_by_spec_definitions(session):
    """A slow, obvious reading of SPEC's definitions over the rows, independent of the engine."""
    assert mismatches(spec_figures(session)) == []
    periods = {row.year: row.status for row in session.exec(select(Period).where(Period.year.in_(YEARS)))}
    assert {year: periods.get(year) == PeriodStatus.consolidated for year in YEARS} == CONSOLIDATED


def spec_figures(session: Session) -> dict[int, dict[str, dict[int, object]]]:
    actions = {row.id: row.number for row in session.exec(select(Action))}
    conventions = {row.id: row for row in session.exec(select(Convention))}
    action_of = {convention_id: actions[row.action_id] for convention_id, row in conventions.items()}
    lines = defaultdict(list)
    threshold = {}
    for line in session.exec(select(ConventionYear)):
        lines[(action_of[line.convention_id], line.year)].append(line)
        threshold[(line.convention_id, line.year)] = line.hours_threshold
    pathways = defaultdict(list)
    for pathway in session.exec(select(Pathway).where(Pathway.entered_on.is_not(None))):
        pathways[action_of[pathway.convention_id]].append(pathway)
    activity = defaultdict(int)
    reported = set()
    for row in session.exec(select(ActivityRecord)):
        key = (action_of[row.convention_id], row.metric, row.recorded_on.year)
        activity[key] += row.quantity
        reported.add(key)

    result: dict[int, dict[str, dict[int, object]]] = defaultdict(lambda: defaultdict(dict))
    for number in set(actions.values()):
        for year in YEARS:
            start, end = date(year, 1, 1), min(date(year, 12, 31), AS_OF)
            figures = result[number]
            year_lines = lines[(number, year)]
            places = [line.places for line in year_lines]
            figures["places_funded"][year] = (
                None if not year_lines or all(p is None for p in places) else sum(p or 0 for p in places)
            )
            for indicator, column in (("budget", "budget"), ("budget_fse", "fse_amount")):
                amounts = [getattr(line, column) for line in year_lines]
                figures[indicator][year] = None if not amounts or None in amounts else sum(amounts)
            present, days, exits, reached, with_hours = set(), 0, [], set(), False
            for pathway in pathways[number]:
                stay_end = min(pathway.exited_on or AS_OF, AS_OF)
                if pathway.entered_on <= end and stay_end >= start:
                    present.add(pathway.person_key)
                    days += (min(stay_end, end) - max(pathway.entered_on, start)).days + 1
                    if pathway.hours is not None:
                        with_hours = True
                        limit = threshold.get((pathway.convention_id, year))
                        if limit is not None and pathway.hours >= limit:
                            reached.add(pathway.person_key)
                if pathway.exited_on is not None and start <= pathway.exited_on <= end:
                    exits.append(pathway.exit_reason)
            planned = 0.0
            for line in year_lines:
                convention = conventions[line.convention_id]
                first, last = max(start, convention.start_on), min(end, convention.end_on)
                if line.places and first <= last:
                    planned += line.places * line.months_per_place / 12 * ((last - first).days + 1)
            figures["persons_present"][year] = len(present)
            figures["occupancy_rate"][year] = days / planned if planned else None
            figures["exits"][year] = len(exits)
            for indicator, reasons in (
                ("dynamic_exit_rate", DYNAMIC_REASONS),
                ("durable_employment_rate", DURABLE_EMPLOYMENT_REASONS),
                ("business_creation_rate", {"business_creation"}),
                ("completion_rate", COMPLETED_REASONS),
            ):
                figures[indicator][year] = sum(reason in reasons for reason in exits) / len(exits) if exits else None
            figures["hours_threshold_reached"][year] = len(reached) if with_hours else None
            for metric in ("vehicle_rental_days", "licence_registrations", "licences_obtained"):
                key = (number, metric, year)
                figures[metric][year] = activity[key] if key in reported else None
    return result


def document_cell(number: int, indicator: str, year: int) -> tuple[bool, int | None]:
    """(whether the document gives this cell, its figure or None for NC). A year the action's
    table does not print is no data for it: NC."""
    printed_years = {printed for years in EXPECTED[number].values() for printed in years}
    if year not in printed_years:
        return False, None
    return True, EXPECTED[number].get(indicator, {}).get(year)


def test_every_nc_of_the_document_is_nc_in_every_output(client, admin, session):
    """SPEC C13: every family, action and year of the seed; a cell the document leaves NC (or an
    action-year it has no column for) is NC in the JSON, the HTML's tables and the XLSX's sheets;
    a family's budget is NC in a year where one of its actions' budgets is, never a partial sum."""
    params = {"years": "2018,2019,2020", "as_of": "2020-12-31"}
    body = client.get("/api/v1/bilan", params=params, headers=admin).json()
    expected_nc, problems = set(), []
    family_budgets: dict[str, dict[int, int | None]] = {}
    for family in body["families"]:
        for year in YEARS:
            parts = []
            for action in family["actions"]:
                printed, budget = document_cell(action["number"], "budget", year)
                parts.append(budget if printed else None)
            family_budgets.setdefault(family["name"], {})[year] = None if None in parts else sum(parts)
        for action in family["actions"]:
            for row in action["table"]:
                for year in YEARS:
                    printed, figure = document_cell(action["number"], row["indicator"], year)
                    got = row["values"][str(year)]
                    if figure is None and (not printed or row["indicator"] in EXPECTED[action["number"]]):
                        expected_nc.add((action["number"], row["indicator"], year))
                        if got is not None:
                            problems.append(f"action {action['number']} {row['indicator']} {year}: {got}, not NC")
    assert problems == []
    # The document's own NC cells, and the action-years it has no column for, are all among them.
    assert {
        (5, "licence_registrations", 2018),
        (6, "budget", 2018),
        (9, "hours_threshold_reached", 2020),
    } <= expected_nc
    assert {(1, "persons_present", 2020), (4, "persons_present", 2018), (4, "budget", 2018)} <= expected_nc
    # Two families have an NC budget: the référencement in 2020 (action 1 has no 2020), the levée
    # des freins in 2018 (action 4 has no 2018, action 6's is NC).
    assert family_budgets["Le référencement des publics"] == {2018: 519000, 2019: 510000, 2020: None}
    assert family_budgets["La levée des freins"][2018] is None

    _bilan, charts = build_bilan_with_charts(session=session, years=list(YEARS), as_of=AS_OF)
    shown = {
        name: {series.name: series.values[index] for series in charts.budget.series}
        for index, name in enumerate(charts.budget.categories)
    }
    for name, years in family_budgets.items():
        for year, figure in years.items():
            got = shown[name][year]
            assert (None if got is None else as_printed("budget", got)) == figure, (name, year, got)

    html = client.get("/api/v1/bilan", params={**params, "format": "html"}, headers=admin).text
    xlsx = client.get("/api/v1/bilan", params={**params, "format": "xlsx"}, headers=admin).content
    workbook = load_workbook(BytesIO(xlsx))
    summary = workbook.worksheets[0]
    budget_rows = {
        row[0]: row[1:4]
        for row in summary.iter_rows(values_only=True)
        if row and row[0] in family_budgets and len(row) > 3
    }
    for name, years in family_budgets.items():
        cells = [None if value == "NC" else as_printed("budget", value) for value in budget_rows[name]]
        assert cells == [years[year] for year in YEARS], (name, cells)
    # In the HTML's budget table (the chart's figures), the référencement's 2020 reads NC.
    table = html[html.index("Budget par famille") :]
    row = table[table.index('<th scope="row">Le référencement des publics') :]
    row = row[: row.index("</tr>")]
    assert row.count(">NC<") == 1 and french(519000, Unit.euros) in row and french(60000, Unit.euros) not in row
