"""The bilan qualitatif in the bilan (SPEC C6): the seed's points come back verbatim through the
API and in every format (JSON, Markdown, HTML, XLSX), the latest requested year wins, CSV keeps
its shape, and a point that would start a formula is neutralised in the exports."""

import csv
import io
import re
from html import unescape

import pytest
from openpyxl import load_workbook

from app.assessments.models import ActionAssessment
from app.indicators.bilan.formats import FORMULA_TRIGGERS
from seed.data import read_seed_data
from tests import factories

API = "/api/v1"
SEEDED = {item["action"]: item["points"] for item in read_seed_data()["assessments"]}
# Two of the document's points, copied here by hand from its section 3.3 (Depart'Parcours), so
# that the seed file itself is checked against the document's words, not only against itself.
DOCUMENT_3_3 = [
    "Démarche concertée continue entre les services du Département et les opérateurs conventionnés ;",
    "Résultats quantitatifs en deçà des attendus liés à une gestion des flux de prescriptions complexe ;",
]


def bilan(client, headers, **params):
    response = client.get(f"{API}/bilan", params={"as_of": "2020-12-31", **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_the_seed_holds_every_action_s_points_on_2020_verbatim(client, reader):
    actions = client.get(f"{API}/actions", params={"size": 500}).json()["items"]
    seeded_codes = {action["code"] for action in actions if action["number"] <= 11}
    assert set(SEEDED) == seeded_codes and len(SEEDED) == 11
    for code, points in SEEDED.items():
        page = client.get(f"{API}/actions/{code}/assessments", headers=reader).json()
        assert [(item["year"], item["points"]) for item in page["items"]] == [(2020, points)]
    parcours = client.get(f"{API}/actions/depart-parcours/assessments/2020", headers=reader).json()
    assert len(parcours["points"]) == 5
    assert [parcours["points"][0], parcours["points"][3]] == DOCUMENT_3_3
    assert SEEDED["public-seul-sans-enfant"][-1] == "Prescriptions faibles sur le rural."


def test_json_gives_each_action_its_assessment(client, reader):
    families = bilan(client, reader, years="2018,2019,2020").json()["families"]
    shown = {action["code"]: action["assessment"] for family in families for action in family["actions"]}
    for code, points in SEEDED.items():
        assert shown[code] == {"year": 2020, "points": points}
    older = bilan(client, reader, years="2018,2019", as_of="2019-12-31").json()["families"]
    assert all(action["assessment"] is None for family in older for action in family["actions"])


def test_the_latest_requested_year_that_has_one_is_shown(client, admin, reader, session):
    action = factories.action(session, indicators=["budget"])
    session.commit()
    for year in (2018, 2019):
        response = client.put(
            f"{API}/actions/{action.code}/assessments/{year}", json={"points": [f"Bilan {year}"]}, headers=admin
        )
        assert response.status_code == 201, response.text

    def shown(years):
        [family] = bilan(client, reader, years=years, action=action.code).json()["families"]
        return family["actions"][0]["assessment"]

    assert shown("2018,2019,2020") == {"year": 2019, "points": ["Bilan 2019"]}
    assert shown("2018,2020") == {"year": 2018, "points": ["Bilan 2018"]}
    assert shown("2020") is None


def _markdown_assessments(text: str) -> dict[str, tuple[str, list[str]]]:
    """{action heading: (assessment heading, points)} as the Markdown lays them out."""
    found, heading = {}, None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("### "):
            heading = line[4:]
        elif line.startswith("#### Bilan qualitatif"):
            points = []
            for item in lines[index + 2 :]:
                if not item.startswith("- "):
                    break
                points.append(item[2:])
            found[heading] = (line[5:], points)
    return found


def test_markdown_lists_the_points_under_the_action_s_table(client, reader):
    text = bilan(client, reader, years="2019,2020", format="md").text
    found = _markdown_assessments(text)
    names = {item["code"]: f"{item['number']}. {item['name']}" for item in client.get(f"{API}/actions").json()["items"]}
    for code, points in SEEDED.items():
        assert found[names[code]] == ("Bilan qualitatif 2020", points)
    # Under the table: the action's last table row comes before its assessment heading.
    section = text.split("### 3. ")[1].split("### 4. ")[0]
    assert section.rindex("| ") < section.index("#### Bilan qualitatif 2020")


def test_html_lists_the_points_under_the_action_s_table(client, reader):
    page = bilan(client, reader, years="2019,2020", format="html").text
    articles = re.findall(r'<article class="action">(.*?)</article>', page, flags=re.S)
    shown = {}
    for article in articles:
        name = unescape(re.search(r"<h3>(.*?)</h3>", article).group(1))
        section = re.search(r'<section class="assessment"><h4>(.*?)</h4><ul>(.*?)</ul></section>', article)
        if section:
            assert article.index("<table>") < section.start()
            shown[name] = (
                section.group(1),
                [unescape(item) for item in re.findall(r"<li>(.*?)</li>", section.group(2))],
            )
    names = {item["code"]: f"{item['number']}. {item['name']}" for item in client.get(f"{API}/actions").json()["items"]}
    for code, points in SEEDED.items():
        assert shown[names[code]] == ("Bilan qualitatif 2020", points)


def _xlsx_assessments(workbook) -> dict[str, list[str]]:
    """{action name: points} from the family sheets' action texts."""
    found = {}
    for sheet in workbook.worksheets[1:]:
        rows = list(sheet.iter_rows(values_only=True))
        for index, row in enumerate(rows):
            if row[1] == "Bilan qualitatif 2020":
                name = next(rows[back][1] for back in range(index - 1, 0, -1) if isinstance(rows[back][0], int))
                points = []
                for item in rows[index + 1 :]:
                    if item[0] != "•":
                        break
                    points.append(item[1])
                found[name] = points
    return found


def test_xlsx_lists_the_points_in_each_family_sheet(client, reader):
    workbook = load_workbook(io.BytesIO(bilan(client, reader, years="2019,2020", format="xlsx").content))
    found = _xlsx_assessments(workbook)
    names = {item["code"]: item["name"] for item in client.get(f"{API}/actions").json()["items"]}
    for code, points in SEEDED.items():
        assert found[names[code]] == points
    # A long point wraps in a row tall enough for it (merged cells never grow by themselves).
    sheet = workbook["L'évaluation"]
    row = next(row for row in sheet.iter_rows() if row[1].value == DOCUMENT_3_3[1])
    assert row[1].alignment.wrap_text and sheet.row_dimensions[row[1].row].height >= 15


def test_csv_keeps_one_figure_per_row(client, reader):
    text = bilan(client, reader, years="2019,2020", format="csv").text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len({len(row) for row in rows}) == 1
    assert not any(point in text for points in SEEDED.values() for point in points)


@pytest.fixture
def hostile_points(client, admin, session):
    """An action whose points start with formula triggers (tab and CR through the ORM: the API
    refuses control characters)."""
    action = factories.action(session, name="Action piégée", indicators=["budget"])
    session.commit()
    points = ['=HYPERLINK("http://x";"y")', "+33 6 00 00 00 00", "-5 % de sorties", "@SUM(A1)"]
    response = client.put(f"{API}/actions/{action.code}/assessments/2020", json={"points": points}, headers=admin)
    assert response.status_code == 201, response.text
    session.add(ActionAssessment(action_id=action.id, year=2019, points=["\tcmd", "\r=1+1"]))
    session.commit()
    return action, points


def test_points_that_start_a_formula_are_inert_in_the_exports(client, reader, hostile_points):
    action, points = hostile_points
    params = {"years": "2020", "action": action.code}
    assert bilan(client, reader, **params).json()["families"][0]["actions"][0]["assessment"]["points"] == points

    lines = bilan(client, reader, format="md", **params).text.split("\n")
    assert [line for line in lines if line.startswith("- '")] == [f"- '{point}" for point in points]

    workbook = load_workbook(io.BytesIO(bilan(client, reader, format="xlsx", **params).content))
    texts = [
        cell.value for sheet in workbook for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)
    ]
    assert not [text for text in texts if text.startswith(FORMULA_TRIGGERS)]
    assert [f"'{point}" for point in points] == [text for text in texts if text.startswith("'")]

    older = load_workbook(io.BytesIO(bilan(client, reader, format="xlsx", years="2019", action=action.code).content))
    texts = [cell.value for sheet in older for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert not [text for text in texts if text.startswith(FORMULA_TRIGGERS)]
    assert "'\tcmd" in texts
    lines = bilan(client, reader, format="md", years="2019", action=action.code).text.split("\n")
    assert not [line for line in lines if line.startswith(FORMULA_TRIGGERS) and not line.startswith("- ")]
    assert "- '\tcmd" in lines and "\r" not in "".join(lines)


def test_xlsx_rows_with_a_long_action_name_are_tall_enough(client, reader):
    workbook = load_workbook(io.BytesIO(bilan(client, reader, years="2019,2020", format="xlsx").content))
    sheet = workbook["Le retour à l'emploi"]
    rows = [row for row in sheet.iter_rows() if row[0].value == 9 and row[2].value]  # action 9's table rows
    assert rows and len(rows[0][1].value) > 60
    for row in rows:
        # 30 characters wide: the name takes 3 lines, and the row their height, not the default 15.
        assert row[1].alignment.wrap_text
        assert sheet.row_dimensions[row[1].row].height >= 45
        assert {cell.alignment.vertical for cell in row[:6]} == {"top"}  # figures (NC too) level with the name
    short = [row for row in sheet.iter_rows() if row[0].value == 10 and row[2].value]  # Depart'Emploi: one line
    assert short and all(sheet.row_dimensions[row[0].row].height is None for row in short)
