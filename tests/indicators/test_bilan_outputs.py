"""GET /bilan's outputs for people and spreadsheets: CSV in two dialects, the XLSX workbook
(summary charts, a sheet per family), the HTML page, and inert text in every export.

The hand-built programme of conftest.py, as of 2020-06-30 with 2019 consolidated; the page in
a real browser is in test_bilan_html_browser.py.
"""

import csv
import io
import re
from datetime import date
from html import escape

import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart

from app.indicators.bilan.charts import BilanCharts, budget_chart, exits_chart, occupancy_chart
from app.indicators.bilan.formats import FORMULA_TRIGGERS, CsvDialect, csv_number, to_csv
from app.indicators.bilan.xlsx import to_xlsx
from app.indicators.schemas import BilanActionRead, BilanFamilyRead, BilanRead, BilanTableRowRead
from app.periods.models import Period, PeriodStatus
from app.reference.indicators import Unit
from tests import factories
from tests.helpers import assert_problem
from tests.indicators.conftest import A1_INDICATORS

URL = "/api/v1/bilan"
OCCUPANCY_2019 = 549 / 730  # A1's occupancy in 2019 (see test_bilan_api.py)


@pytest.fixture
def consolidated_2019(session, programme):
    session.merge(Period(year=2019, status=PeriodStatus.consolidated))
    session.commit()
    return programme


def get_bilan(client, headers, **params):
    return client.get(URL, params={"years": "2019,2020", "as_of": "2020-06-30", **params}, headers=headers)


# --- CSV ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "dialect", "expected"),
    [
        (0.8500059559261465, Unit.rate, CsvDialect.rfc4180, "0.85"),
        (0.75205479, Unit.rate, CsvDialect.rfc4180, "0.7521"),
        (0.75205479, Unit.rate, CsvDialect.excel_fr, "0,7521"),
        (1.0, Unit.rate, CsvDialect.rfc4180, "1"),
        (450000.0, Unit.euros, CsvDialect.rfc4180, "450000"),
        (1234.5678, Unit.euros, CsvDialect.excel_fr, "1234,57"),
        (1858, Unit.count, CsvDialect.excel_fr, "1858"),
        (9.0, Unit.days, CsvDialect.rfc4180, "9"),
        (-1.25, Unit.euros, CsvDialect.excel_fr, "-1,25"),
        (None, Unit.rate, CsvDialect.rfc4180, ""),
    ],
)
def test_csv_numbers_are_rounded_and_integers_print_as_integers(value, unit, dialect, expected):
    assert csv_number(value, unit, dialect) == expected


def test_plain_csv_is_rfc_4180_with_as_of_and_consolidated_states(client, reader, consolidated_2019):
    programme = consolidated_2019
    response = get_bilan(client, reader, action=programme.a1.code, format="csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert not response.content.startswith(b"\xef\xbb\xbf")
    assert response.text.endswith("\r\n") and "\n" not in response.text.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [row["indicator"] for row in rows] == A1_INDICATORS
    for row in rows:
        assert (row["as_of"], row["consolidated_2019"], row["consolidated_2020"]) == ("2020-06-30", "true", "false")
    values = {row["indicator"]: (row["2019"], row["2020"]) for row in rows}
    assert values == {
        "places_funded": ("2", "3"),
        "budget": ("1200", "1800"),  # not 1200.0
        "persons_present": ("2", "1"),
        "occupancy_rate": ("0.7521", "0.3333"),  # 549/730 and 182/546, 4 places
        "exits": ("1", "0"),
        "dynamic_exit_rate": ("1", ""),
    }


def test_excel_fr_csv_has_semicolons_decimal_commas_and_a_bom(client, reader, consolidated_2019):
    programme = consolidated_2019
    response = get_bilan(client, reader, action=programme.a1.code, format="csv", dialect="excel-fr")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert header == [
        "family",
        "action_number",
        "action",
        "indicator",
        "label",
        "2019",
        "2020",
        "as_of",
        "consolidated_2019",
        "consolidated_2020",
    ]
    occupancy = next(row for row in rows if row[3] == "occupancy_rate")
    assert occupancy[:3] == ["Bilan test", str(programme.a1.number), "Départ test"]  # accents intact
    assert occupancy[4] == "Taux de réalisation de l'action"
    assert occupancy[5:] == ["0,7521", "0,3333", "2020-06-30", "true", "false"]
    budget = next(row for row in rows if row[3] == "budget")
    assert budget[5:7] == ["1200", "1800"]
    for row in rows:
        assert not any(re.fullmatch(r"-?\d+\.\d+", cell) for cell in row), row  # no decimal point left


def test_excel_fr_and_plain_csv_hold_the_same_figures(client, reader, consolidated_2019):
    plain = list(csv.reader(io.StringIO(get_bilan(client, reader, format="csv").text, newline="")))
    french = get_bilan(client, reader, format="csv", dialect="excel-fr").content.decode("utf-8-sig")
    french_rows = list(csv.reader(io.StringIO(french, newline=""), delimiter=";"))
    assert [[cell.replace(",", ".") for cell in row] for row in french_rows] == [
        [cell.replace(",", ".") for cell in row] for row in plain
    ]


def test_an_unknown_dialect_is_a_422_problem(client, reader, programme):
    assert_problem(get_bilan(client, reader, format="csv", dialect="excel"), 422, ["query", "dialect"])
    assert_problem(get_bilan(client, reader, format="md", dialect="excel-fr"), 422, ["query", "dialect"])


# --- XLSX -----------------------------------------------------------------------------------


@pytest.fixture
def workbook(client, reader, consolidated_2019):
    response = get_bilan(client, reader, format="xlsx")
    assert response.status_code == 200, response.text
    return load_workbook(io.BytesIO(response.content))


def table_below(sheet, title: str) -> dict:
    """The small table under a summary heading: {category: [cells of the row]} and its header."""
    rows = list(sheet.iter_rows())
    start = next(index for index, row in enumerate(rows) if row[0].value == title)
    header = rows[start + 1]
    table = {"header": [cell.value for cell in header if cell.value is not None]}
    for row in rows[start + 2 :]:
        if row[0].value is None:
            break
        table[row[0].value] = row
    return table


def test_xlsx_summary_sheet_has_three_native_bar_charts_and_their_figures(workbook, consolidated_2019):
    programme = consolidated_2019
    assert workbook.sheetnames[0] == "Synthèse"
    summary = workbook["Synthèse"]
    charts = summary._charts
    assert len(charts) == 3
    assert all(isinstance(chart, BarChart) for chart in charts)
    occupancy, budget, exits = charts
    # Columns, not horizontal bars: spreadsheets list a bar chart's legend bottom-up (2020 · 2019 ·
    # 2018); a column chart's legend follows its series, the years as the table has them.
    assert (occupancy.type, occupancy.grouping) == ("col", "clustered")
    titles = [summary[series.tx.strRef.f.split("!")[1]].value for series in occupancy.series]
    assert titles == [2019, 2020]  # the legend's order
    assert (budget.type, budget.grouping) == ("col", "clustered")
    assert (exits.type, exits.grouping) == ("col", "stacked")
    assert [len(chart.series) for chart in charts] == [2, 2, 3]  # two years; three kinds of exit
    assert occupancy.y_axis.number_format.formatCode == "0%"
    assert budget.y_axis.number_format.formatCode == '#,##0 "€"'

    table = table_below(summary, "Taux de réalisation par action")
    assert table["header"] == ["Action", 2019, 2020]
    row = table[f"{programme.a1.number}. Départ test"]
    assert row[1].value == pytest.approx(OCCUPANCY_2019)
    assert row[1].number_format == "0%"

    table = table_below(summary, "Budget par famille d'actions")
    assert table["header"] == ["Famille", 2019, 2020]
    row = table["Bilan test"]
    assert row[1].value == 2200  # A1's 1 200 € and A2's 1 000 €
    assert row[1].number_format == '#,##0 "€"'
    assert row[2].value == "NC"  # A2's 2020 budget is unknown

    table = table_below(summary, "Sorties par année")
    assert table["header"] == ["Année", "Emploi durable", "Autres sorties dynamiques", "Autres sorties"]
    assert [cell.value for cell in table[2019]] == [2019, 1, 0, 0]  # b1 left for a CDI
    assert [cell.value for cell in table[2020]] == [2020, 0, 0, 0]


def test_xlsx_family_sheet_has_the_table_descriptions_filter_and_print_setup(workbook, consolidated_2019):
    programme = consolidated_2019
    sheet = workbook["Bilan test"]
    rows = list(sheet.iter_rows())
    header_index = next(index for index, row in enumerate(rows) if row[0].value == "N°")
    header = rows[header_index]
    assert [cell.value for cell in header] == ["N°", "Action", "Indicateur", 2019, 2020]
    assert all(type(cell.value) is int for cell in header[3:])  # years are numbers
    states = rows[header_index - 1]
    assert [cell.value for cell in states[3:]] == ["consolidé", "non consolidé"]

    body = [row for row in rows[header_index + 1 :] if isinstance(row[0].value, int) and row[2].value]
    assert [(row[0].value, row[1].value) for row in body[:1]] == [(programme.a1.number, "Départ test")]
    assert len(body) == len(A1_INDICATORS) + 5  # A1's and A2's indicators
    occupancy = next(row for row in body if row[2].value == "Taux de réalisation de l'action")
    assert occupancy[3].value == pytest.approx(OCCUPANCY_2019) and occupancy[3].number_format == "0%"
    fse = next(row for row in body if row[2].value == "dont FSE")
    assert fse[3].value == 400 and fse[3].number_format == '#,##0 "€"'
    assert body[0][2].alignment.wrap_text

    header_row = header_index + 1
    assert sheet.auto_filter.ref == f"A{header_row}:E{header_row + len(body)}"
    assert sheet.freeze_panes == f"D{header_row + 1}"
    assert sheet.print_title_rows == f"${header_row - 1}:${header_row}"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage

    description = next(cell for row in rows for cell in row if cell.value == "Une action de test.")
    assert description.alignment.wrap_text
    operators = [cell.value for row in rows for cell in row if str(cell.value).startswith("Opérateurs concernés")]
    assert operators == ["Opérateurs concernés : Alpha Insertion, Zeta Emploi"]


def test_xlsx_document_properties_say_what_and_as_of_when(workbook):
    properties = workbook.properties
    assert properties.title == "Sarthe — Bilan des actions du Programme Départemental d'Insertion 2019/2020"
    assert "30/06/2020" in properties.subject
    assert "as_of 2020-06-30" in properties.description and "2020 non consolidé" in properties.description
    assert "as_of=2020-06-30" in properties.keywords


def test_xlsx_every_sheet_prints_landscape_on_one_page_width(workbook):
    for sheet in workbook.worksheets:
        assert sheet.page_setup.orientation == "landscape", sheet.title
        assert sheet.page_setup.fitToWidth == 1, sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title


def test_xlsx_holds_no_formula(workbook):
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert cells
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []


# --- HTML (the page in a real browser: test_bilan_html_browser.py) ---------------------------


def test_html_is_one_self_contained_page(client, reader, consolidated_2019):
    programme = consolidated_2019
    response = get_bilan(client, reader, format="html")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="bilan-pdi-2019-2020.html"'
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert page.startswith("<!doctype html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert re.search(r"(?:src|href)\s*=\s*\"(?!#)", page) is None  # nothing to fetch; only in-page anchors
    assert "http:" not in page and "https:" not in page and "url(" not in page
    assert page.count("<svg") == 3
    assert "<h2>Bilan test</h2>" in page
    assert f"<h3>{programme.a1.number}. Départ test</h3>" in page
    assert "Opérateurs concernés : Alpha Insertion, Zeta Emploi" in page
    assert '<th scope="col">Juin 2020 (non consolidé)</th>' in page
    assert (
        '<tr><th scope="row">Taux de réalisation de l&#x27;action</th><td data-label="2019">75%</td>'
        '<td data-label="Juin 2020 (non consolidé)">33%</td></tr>'
    ) in page
    assert page.count("<table>") == page.count("<thead>")  # headers repeat on every printed page
    assert "break-before: page" in page and "display: table-header-group" in page


def test_html_escapes_stored_text(client, admin, session):
    family = factories.family(session, name="<b>Famille</b> & co", position=990)
    action = factories.action(
        session,
        family_id=family.id,
        name="<script>alert(1)</script>",
        description='"Citée" <img src=x onerror=alert(2)>',
        indicators=["budget"],
    )
    operator = factories.operator(session, name="Opérateur <i>")
    factories.convention(session, action_id=action.id, operator_id=operator.id, years={2019: {"budget": 10}})
    session.commit()
    response = client.get(URL, params={"years": "2019", "action": action.code, "format": "html"}, headers=admin)
    assert response.status_code == 200, response.text
    page = response.text
    assert "<script" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Famille&lt;/b&gt; &amp; co" in page
    assert "&quot;Citée&quot; &lt;img src=x onerror=alert(2)&gt;" in page
    assert "Opérateur concerné : Opérateur &lt;i&gt;" in page


# --- Inert exports (SPEC C2) ----------------------------------------------------------------

TRIGGERS = {"=": "equals", "+": "plus", "-": "minus", "@": "at", "\t": "tab", "\r": "cr"}


@pytest.fixture(params=list(TRIGGERS), ids=list(TRIGGERS.values()))
def hostile(request, client, admin, session):
    """A family, action and operator whose names start with a formula trigger, with a
    convention in 2019. Created through the API; the API trims whitespace, so names starting
    with tab or CR (which an import could still store) are written through the ORM."""
    trigger = request.param
    names = {
        "family": f'{trigger}HYPERLINK("http://x";"famille")',
        "action": f"{trigger}1+1 action",
        "operator": f"{trigger}cmd|' /C calc'!A0",
    }
    code = factories.unique("hostile")
    if trigger in "\t\r":
        family = factories.family(session, code=code, name=names["family"], position=980)
        action = factories.action(
            session, family_id=family.id, code=f"{code}-a", name=names["action"], indicators=["budget", "exits"]
        )
        operator_id = factories.operator(session, name=names["operator"]).id
        factories.convention(session, action_id=action.id, operator_id=operator_id, years={2019: {"budget": 1500}})
        session.commit()
    else:
        created = [
            client.post(
                "/api/v1/families", json={"code": code, "name": names["family"], "position": 980}, headers=admin
            ),
            client.post(
                "/api/v1/actions",
                json={
                    "code": f"{code}-a",
                    "number": 900 + list(TRIGGERS).index(trigger),
                    "family": code,
                    "name": names["action"],
                    "indicators": ["budget", "exits"],
                },
                headers=admin,
            ),
            client.post("/api/v1/operators", json={"name": names["operator"]}, headers=admin),
        ]
        assert [response.status_code for response in created] == [201, 201, 201], [r.text for r in created]
        convention = {
            "reference": f"{code}-c",
            "action": f"{code}-a",
            "operator_id": created[2].json()["id"],
            "start_on": "2019-01-01",
            "end_on": "2019-12-31",
            "years": [{"year": 2019, "places": 2, "budget": 1500}],
        }
        response = client.post("/api/v1/conventions", json=convention, headers=admin)
        assert response.status_code == 201, response.text
    stored = client.get(URL, params={"years": "2019", "action": f"{code}-a"}, headers=admin).json()
    [family] = stored["families"]
    assert family["name"] == names["family"]  # stored as given: only exports neutralise it
    assert family["actions"][0]["operators"] == [names["operator"]]
    return {"trigger": trigger, "action_code": f"{code}-a", **names}


def export(client, admin, hostile, **params):
    response = client.get(
        URL, params={"years": "2019", "as_of": "2019-12-31", "action": hostile["action_code"], **params}, headers=admin
    )
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("dialect", ["rfc4180", "excel-fr"])
def test_csv_cells_from_stored_text_are_inert(client, admin, hostile, dialect):
    text = export(client, admin, hostile, format="csv", dialect=dialect).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";" if dialect == "excel-fr" else ","))
    assert len(rows) == 3  # header, budget, exits
    for row in rows:
        assert not any(cell.startswith(FORMULA_TRIGGERS) for cell in row), row
    assert {(row[0], row[2]) for row in rows[1:]} == {("'" + hostile["family"], "'" + hostile["action"])}
    budget = next(row for row in rows if row[3] == "budget")
    assert budget[5] == "1500"  # numbers stay numbers


def test_xlsx_cells_from_stored_text_are_inert(client, admin, hostile):
    workbook = load_workbook(io.BytesIO(export(client, admin, hostile, format="xlsx").content))
    texts = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    assert not [text for text in texts if text.startswith(FORMULA_TRIGGERS)]
    # An XML reader gives a carriage return back as a line feed.
    family, action, operator = (hostile[key].replace("\r", "\n") for key in ("family", "action", "operator"))
    assert "'" + family in texts  # the family sheet's title line, the budget chart's category
    assert "'" + action in texts
    assert f"Opérateur concerné : '{operator}" in texts
    family_sheet = workbook.worksheets[1]
    budget = next(row for row in family_sheet.iter_rows() if row[2].value == "Budget conventionné")
    assert budget[3].value == 1500 and budget[3].data_type == "n"


def test_markdown_lines_from_stored_text_are_inert(client, admin, hostile):
    lines = export(client, admin, hostile, format="md").text.split("\n")
    # The one line that starts with `-` is the document's own list item, not stored text.
    starting_with_triggers = [line for line in lines if line.startswith(FORMULA_TRIGGERS)]
    assert [line.split(" : ")[0] for line in starting_with_triggers] == ["- Opérateur concerné"]
    assert "\r" not in "".join(lines)
    trigger = hostile["trigger"]
    if trigger == "\r":  # a line break inside a heading becomes a space
        assert f"## {hostile['family'].replace(trigger, ' ')}" in lines
    else:
        assert f"## '{hostile['family']}" in lines
        assert any(line.endswith(f". '{hostile['action']}") for line in lines)
        assert f"- Opérateur concerné : '{hostile['operator']}" in lines


def test_html_shows_stored_text_as_it_is_escaped(client, admin, hostile):
    page = export(client, admin, hostile, format="html").text
    assert "<script" not in page
    assert f"<h2>{escape(hostile['family'])}</h2>" in page


def test_negative_numbers_stay_numbers():
    """No figure of the bilan is negative today; if one ever is, it is a number, not text."""
    bilan = BilanRead(
        years=[2019],
        as_of=date(2019, 12, 31),
        consolidated={"2019": True},
        families=[
            BilanFamilyRead(
                code="f",
                name="-Famille",
                actions=[
                    BilanActionRead(
                        code="a",
                        number=1,
                        name="Action",
                        description=None,
                        operators=[],
                        consolidated={"2019": True},
                        table=[BilanTableRowRead(indicator="budget", label="Budget", values={"2019": -1250.5})],
                    )
                ],
            )
        ],
    )
    [_, row] = list(csv.reader(io.StringIO(to_csv(bilan), newline="")))
    assert row[0] == "'-Famille" and row[5] == "-1250.5"
    charts = BilanCharts(occupancy_chart(bilan), budget_chart(bilan, {}), exits_chart(bilan, {}))
    sheet = load_workbook(io.BytesIO(to_xlsx(bilan, charts))).worksheets[1]
    cell = next(row[3] for row in sheet.iter_rows() if row[2].value == "Budget")
    assert cell.value == -1250.5 and cell.data_type == "n"
