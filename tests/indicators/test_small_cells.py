"""Statistical secrecy (app/indicators/secrecy.py): a figure resting on 1 to PDI_MIN_CELL_SIZE − 1
persons is null and named in `suppressed` for reader and portal keys (and for an operator key in
the bilan's actions that have other operators' conventions); admin keys and the convention's own
operator see it. Money, places and occupancy are never withheld; a cell of exactly N persons is shown."""

import csv
import io
from dataclasses import dataclass
from datetime import date

import pytest
from openpyxl import load_workbook

from app.conventions.models import Convention
from app.core.config import get_settings
from app.indicators.engine.pathway_query import PATHWAY_FIGURES
from app.indicators.engine.totals import GroupTotals, person_counts
from app.pathways.models import Diagnostic
from app.reference.diagnostic_dimensions import DIMENSION_CODES
from app.reference.indicators import BARRIER_RATE_PREFIX, INDICATORS, INDICATORS_BY_CODE
from tests import factories

URL = "/api/v1/indicators"
MIN_SIZE = 5


@pytest.fixture(autouse=True)
def secrecy_on(monkeypatch):
    monkeypatch.setattr(get_settings(), "min_cell_size", MIN_SIZE)


@dataclass
class World:
    action: str  # the action of `small` only
    small: int  # one person, entered 2020-03-02, a health barrier in her diagnostic
    exact: int  # five persons entered 2020-04-01, exited 2020-06-30: four dynamic exits, one not
    own: dict[str, str]  # the operator key of `small`'s operator
    other_operator: dict[str, str]


@pytest.fixture
def world(session, make_key) -> World:
    family = factories.family(session)
    action = factories.action(session, family_id=family.id, indicators=["entries", "budget", "places_funded"])
    alpha, beta = factories.operator(session), factories.operator(session)
    line = {2020: {"places": 10, "budget": 5000}}
    small = factories.convention(session, action_id=action.id, operator_id=alpha.id, years=line)
    exact = factories.convention(session, operator_id=beta.id, years=line)
    pathway = factories.pathway(
        session, convention_id=small.id, prescribed_on=date(2020, 3, 1), entered_on=date(2020, 3, 2)
    )
    session.flush()
    session.add(Diagnostic(pathway_id=pathway.id, assessed_on=date(2020, 3, 2), health="barrier"))
    for reason in ("employment_cdi",) * 4 + ("dropped_out",):
        factories.pathway(
            session,
            convention_id=exact.id,
            prescribed_on=date(2020, 3, 15),
            entered_on=date(2020, 4, 1),
            exited_on=date(2020, 6, 30),
            exit_reason=reason,
        )
    session.commit()
    return World(
        action=action.code,
        small=small.id,
        exact=exact.id,
        own=make_key("operator", operator_id=alpha.id),
        other_operator=make_key("operator", operator_id=beta.id),
    )


def _row(client, headers, **params) -> dict:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert len(rows) == 1
    return rows[0]


def test_one_day_on_one_convention_is_withheld_from_reader_and_portal(client, world, reader, portal):
    """The issue's example: one entry and one diagnostic on a one-day window."""
    window = {"from": "2020-03-02", "to": "2020-03-02", "convention": world.small}
    for headers in (reader, portal):
        row = _row(client, headers, **window)
        values = row["values"]
        for code in ("entries", "persons_present", "barrier_rate_health", "mean_entry_delay_days"):
            assert values[code] is None
            assert code in row["suppressed"]
        # Not about persons: shown.
        assert values["budget"] == 5000
        assert values["places_funded"] == 10
        assert "budget" not in row["suppressed"]
        # Nothing to withhold in a figure over nobody (no exit: a rate over nothing is NC).
        assert values["exits"] == 0 and "exits" not in row["suppressed"]
        assert values["dynamic_exit_rate"] is None and "dynamic_exit_rate" not in row["suppressed"]


def test_admin_and_the_conventions_operator_see_every_cell(client, world, admin):
    window = {"from": "2020-03-02", "to": "2020-03-02", "convention": world.small}
    for headers in (admin, world.own):
        row = _row(client, headers, **window)
        assert row["values"]["entries"] == 1
        assert row["values"]["barrier_rate_health"] == 1.0
        assert "suppressed" not in row


def test_a_cell_of_exactly_n_persons_is_shown_and_a_rate_revealing_fewer_is_not(client, world, reader):
    row = _row(client, reader, year=2020, convention=world.exact)
    values = row["values"]
    assert values["entries"] == MIN_SIZE
    assert values["exits"] == MIN_SIZE
    assert values["persons_present"] == MIN_SIZE
    assert values["cost_per_person"] == 1000.0
    # 4 dynamic exits in 5: the rate with its base gives back the one exit that was not.
    assert values["dynamic_exit_rate"] is None
    # And a cost per dynamic exit rests on those 4.
    assert set(row["suppressed"]) == {
        "dynamic_exit_rate",
        "durable_employment_rate",
        "completion_rate",
        "cost_per_dynamic_exit",
    }
    # No business creation (0 of 5, and 5 not): shown.
    assert values["business_creation_rate"] == 0


def test_grouped_rows_are_withheld_each_on_its_own_persons(client, world, reader, admin):
    params = {"year": 2020, "group_by": "convention", "indicators": "entries,places_funded"}
    response = client.get(URL, params={**params}, headers=reader)
    rows = {row["group"]["convention"]: row for row in response.json()["rows"]}
    assert rows[world.small]["values"] == {"entries": None, "places_funded": 10}
    assert rows[world.small]["suppressed"] == ["entries"]
    assert rows[world.exact]["values"] == {"entries": MIN_SIZE, "places_funded": 10}
    assert "suppressed" not in rows[world.exact]
    admin_rows = {
        row["group"]["convention"]: row for row in client.get(URL, params=params, headers=admin).json()["rows"]
    }
    assert admin_rows[world.small]["values"]["entries"] == 1


def test_secrecy_off_at_one(client, world, reader, monkeypatch):
    monkeypatch.setattr(get_settings(), "min_cell_size", 1)
    row = _row(client, reader, **{"from": "2020-03-02", "to": "2020-03-02", "convention": world.small})
    assert row["values"]["entries"] == 1
    assert "suppressed" not in row


def test_the_bilan_withholds_small_cells_but_for_admin(client, world, reader, admin):
    params = {"years": "2020", "action": world.action}
    for headers in (reader, world.other_operator):
        body = client.get("/api/v1/bilan", params=params, headers=headers).json()
        table = {row["indicator"]: row for row in body["families"][0]["actions"][0]["table"]}
        assert table["entries"]["values"] == {"2020": None}
        assert table["entries"]["suppressed"] == ["2020"]
        assert table["budget"]["values"] == {"2020": 5000}
        assert "suppressed" not in table["budget"]
    # Admin keys, and the operator whose conventions are all of the action's, see every cell.
    for headers in (admin, world.own):
        body = client.get("/api/v1/bilan", params=params, headers=headers).json()
        table = {row["indicator"]: row for row in body["families"][0]["actions"][0]["table"]}
        assert table["entries"]["values"] == {"2020": 1}
        assert "suppressed" not in table["entries"]


def test_in_the_bilan_an_action_shared_with_another_operator_is_withheld_from_both(client, session, world):
    action = session.get(Convention, world.small).action_id
    factories.convention(session, action_id=action, years={2020: {"places": 1, "budget": 100}})
    session.commit()
    body = client.get("/api/v1/bilan", params={"years": "2020", "action": world.action}, headers=world.own).json()
    table = {row["indicator"]: row for row in body["families"][0]["actions"][0]["table"]}
    assert table["entries"]["values"] == {"2020": None}
    assert table["entries"]["suppressed"] == ["2020"]


def test_the_bilans_files_print_a_withheld_cell_as_s_with_its_note(client, world, reader, admin):
    params = {"years": "2020", "action": world.action}
    text = client.get("/api/v1/bilan.csv", params=params, headers=reader).text
    lines = {line["indicator"]: line for line in csv.DictReader(io.StringIO(text))}
    assert lines["entries"]["2020"] == "s"
    assert lines["budget"]["2020"] == "5000"
    assert client.get("/api/v1/bilan.csv", params=params, headers=admin).text.count(",s,") == 0

    markdown = client.get("/api/v1/bilan", params={**params, "format": "md"}, headers=reader).text
    assert "| s |" in markdown
    assert "secret statistique (moins de 5 personnes)" in markdown
    html = client.get("/api/v1/bilan", params={**params, "format": "html"}, headers=reader).text
    assert 'class="secret">s</td>' in html
    assert "secret statistique (moins de 5 personnes)" in html
    workbook = load_workbook(io.BytesIO(client.get("/api/v1/bilan.xlsx", params=params, headers=reader).content))
    cells = [cell.value for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert "s" in cells
    assert any("secret statistique (moins de 5 personnes)" in str(value) for value in cells)
    admin_markdown = client.get("/api/v1/bilan", params={**params, "format": "md"}, headers=admin).text
    assert "secret statistique" not in admin_markdown


def test_the_operator_of_all_an_actions_conventions_sees_every_cell_in_the_files_too(client, world):
    """The XLSX, HTML and PDF are built with their charts: the same cells as the JSON."""
    params = {"years": "2020", "action": world.action}
    html = client.get("/api/v1/bilan", params={**params, "format": "html"}, headers=world.own).text
    assert 'class="secret">s</td>' not in html
    assert "secret statistique" not in html
    workbook = load_workbook(io.BytesIO(client.get("/api/v1/bilan.xlsx", params=params, headers=world.own).content))
    cells = [cell.value for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert "s" not in cells
    text = client.get("/api/v1/bilan.csv", params=params, headers=world.own).text
    assert {line["indicator"]: line["2020"] for line in csv.DictReader(io.StringIO(text))}["entries"] == "1"


def test_every_base_names_a_count_the_engine_gives_and_every_pathway_figure_has_one():
    """A base naming no count would read as 0 and never withhold; an indicator counted from
    pathways without a base would never be withheld either (occupancy, days of stay over
    places, is not about persons)."""
    counts = person_counts(GroupTotals())
    for indicator in INDICATORS:
        if indicator.base is not None:
            assert indicator.base.persons in counts, indicator.code
            assert indicator.base.part is None or indicator.base.part in counts, indicator.code
    not_about_persons = {"occupancy_rate"}
    missing = [code for code in PATHWAY_FIGURES if code not in not_about_persons and not INDICATORS_BY_CODE[code].base]
    assert missing == []
    assert all(INDICATORS_BY_CODE[f"{BARRIER_RATE_PREFIX}{code}"].base for code in DIMENSION_CODES)
