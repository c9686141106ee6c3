"""GET /bilan in its four formats, on the hand-built programme of conftest.py, as of
2020-06-30 with 2019 consolidated."""

import csv
import io

import pytest
from openpyxl import load_workbook

from app.periods.models import Period, PeriodStatus
from tests.indicators.conftest import A1_INDICATORS, A2_INDICATORS

URL = "/api/v1/bilan"


@pytest.fixture
def consolidated_2019(session, programme):
    session.merge(Period(year=2019, status=PeriodStatus.consolidated))
    session.commit()
    return programme


def bilan(client, headers, programme, **params):
    params = {"years": "2019,2020", "as_of": "2020-06-30", **params}
    return client.get(URL, params=params, headers=headers)


def our_family(body, programme) -> dict:
    [family] = [family for family in body["families"] if family["code"] == programme.family_code]
    return family


def test_json_regenerates_the_document_structure(client, reader, consolidated_2019):
    programme = consolidated_2019
    response = bilan(client, reader, programme)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["years"], body["as_of"]) == ([2019, 2020], "2020-06-30")
    family = our_family(body, programme)
    assert family["name"] == "Bilan test"
    a1, a2 = family["actions"]
    assert (a1["code"], a1["number"], a1["name"]) == (programme.a1.code, programme.a1.number, "Départ test")
    assert a1["description"] == "Une action de test."
    assert a1["operators"] == ["Alpha Insertion", "Zeta Emploi"]  # in the order C1 and C2 were recorded
    assert a2["operators"] == ["Alpha Insertion"]
    assert a1["consolidated"] == {"2019": True, "2020": False}
    assert [row["indicator"] for row in a1["table"]] == A1_INDICATORS
    assert [row["indicator"] for row in a2["table"]] == A2_INDICATORS

    table = {row["indicator"]: row for row in a1["table"]}
    assert table["budget"]["label"] == "Budget prévisionnel"  # every A1 line is a forecast
    assert table["budget"]["values"] == {"2019": 1200, "2020": 1800}
    assert table["places_funded"]["values"] == {"2019": 2, "2020": 3}
    assert table["persons_present"]["values"] == {"2019": 2, "2020": 1}
    assert table["occupancy_rate"]["values"]["2019"] == pytest.approx(549 / 730)
    assert table["occupancy_rate"]["values"]["2020"] == pytest.approx(182 / 546)
    assert table["exits"]["values"] == {"2019": 1, "2020": 0}
    assert table["dynamic_exit_rate"]["values"] == {"2019": 1.0, "2020": None}

    table = {row["indicator"]: row for row in a2["table"]}
    assert table["budget"]["label"] == "Budget conventionné"
    assert table["budget"]["values"] == {"2019": 1000, "2020": None}
    assert table["budget_fse"] == {
        "indicator": "budget_fse",
        "label": "dont FSE",
        "values": {"2019": 400, "2020": None},
    }
    assert table["hours_threshold_reached"]["values"] == {"2019": 1, "2020": 1}
    assert table["vehicle_rental_days"]["values"] == {"2019": 10, "2020": None}  # 2020-07-01 is after as_of
    assert table["mean_entry_delay_days"]["values"] == {"2019": 9.0, "2020": None}


def test_the_whole_bilan_orders_families_by_position_and_actions_by_number(client, reader, programme):
    response = bilan(client, reader, programme)
    assert response.status_code == 200, response.text
    body = response.json()
    assert our_family(body, programme)["actions"][0]["code"] == programme.a1.code
    codes = [family["code"] for family in body["families"]]
    assert len(codes) == len(set(codes))
    for family in body["families"]:
        numbers = [action["number"] for action in family["actions"]]
        assert numbers == sorted(numbers)


def test_one_action_only(client, reader, programme):
    body = bilan(client, reader, programme, action=programme.a2.code).json()
    [family] = body["families"]
    assert [action["code"] for action in family["actions"]] == [programme.a2.code]


def test_csv_has_a_header_and_a_row_per_action_and_indicator(client, reader, consolidated_2019):
    programme = consolidated_2019
    response = bilan(client, reader, programme, action=programme.a1.code, format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
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
    assert [row["indicator"] for row in rows] == A1_INDICATORS
    occupancy = next(row for row in rows if row["indicator"] == "occupancy_rate")
    assert (occupancy["family"], occupancy["action"]) == ("Bilan test", "Départ test")
    assert occupancy["action_number"] == str(programme.a1.number)
    assert occupancy["2019"] == "0.7521"  # 549 / 730, rounded to 4 places
    dynamic = next(row for row in rows if row["indicator"] == "dynamic_exit_rate")
    assert dynamic["2020"] == ""


def test_xlsx_has_a_summary_and_a_sheet_per_family(client, reader, consolidated_2019):
    programme = consolidated_2019
    response = bilan(client, reader, programme, action=programme.a1.code, format="xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["content-disposition"] == 'attachment; filename="bilan-pdi-2019-2020.xlsx"'
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Synthèse", "Bilan test"]
    sheet = workbook["Bilan test"]
    rows = list(sheet.iter_rows())
    assert rows[0][0].value == "Bilan test" and rows[0][0].font.bold
    header = next(row for row in rows if row[0].value == "N°")
    assert [cell.value for cell in header] == ["N°", "Action", "Indicateur", 2019, 2020]
    by_label = {row[2].value: row for row in rows if row[1].value == "Départ test" and row[2].value}
    occupancy = by_label["Taux de réalisation de l'action"]
    assert occupancy[0].value == programme.a1.number
    assert occupancy[3].value == pytest.approx(549 / 730)
    assert occupancy[3].number_format == "0%"
    assert by_label["Budget prévisionnel"][4].value == 1800
    assert by_label["Budget prévisionnel"][4].number_format == '#,##0 "€"'
    assert by_label["Taux de sorties dynamiques"][4].value == "NC"
    assert sheet.column_dimensions["C"].width > 30


def test_markdown_reads_like_the_document(client, reader, consolidated_2019):
    programme = consolidated_2019
    response = bilan(client, reader, programme, format="md")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    lines = response.text.splitlines()
    assert "## Bilan test" in lines
    assert f"### {programme.a1.number}. Départ test" in lines
    assert "- Opérateurs concernés : Alpha Insertion, Zeta Emploi" in lines
    assert "Indicateurs au 30/06/2020 ; 2019 consolidé, 2020 non consolidé." in lines
    assert "| Indicateurs | 2019 | Juin 2020 (non consolidé) |" in lines
    assert "| Taux de réalisation de l'action | 75% | 33% |" in lines
    assert "| Budget prévisionnel | 1 200 € | 1 800 € |" in lines
    assert "| Taux de sorties dynamiques | 100% | NC |" in lines
    assert "| Délai moyen d'entrée (jours) | 9,0 | NC |" in lines


def test_as_of_defaults_to_the_last_years_end_when_every_year_is_consolidated(client, reader, admin, programme):
    for year in (2019, 2020):
        assert client.post(f"/api/v1/periods/{year}/consolidate", headers=admin).status_code == 200
    body = client.get(URL, params={"years": "2019,2020", "action": programme.a1.code}, headers=reader).json()
    assert body["as_of"] == "2020-12-31"
    [action] = body["families"][0]["actions"]
    assert action["consolidated"] == {"2019": True, "2020": True}


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"years": "2019;2020"}, ["query", "years"]),
        ({"years": ""}, ["query", "years"]),
        ({"years": "2019²"}, ["query", "years"]),  # a digit to str.isdigit(), not to int() (found by schemathesis)
        ({"years": ",".join(str(year) for year in range(2010, 2021))}, ["query", "years"]),
        ({"years": "1990"}, ["query", "years"]),
        ({"years": "2019,2020", "as_of": "2019-12-31"}, ["query", "as_of"]),
        ({"years": "2019", "format": "docx"}, ["query", "format"]),
        ({"years": "2019", "format": "csv", "dialect": "excel-de"}, ["query", "dialect"]),
        ({"years": "2019", "format": "xlsx", "dialect": "excel-fr"}, ["query", "dialect"]),
        ({"years": "2019", "as_of": "soon"}, ["query", "as_of"]),
        ({}, ["query", "years"]),
    ],
)
def test_bad_bilan_queries_are_422_problems(client, reader, params, loc):
    response = client.get(URL, params=params, headers=reader)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert loc in [error["loc"] for error in response.json()["errors"]]


def test_an_unknown_action_is_a_404(client, reader):
    response = client.get(URL, params={"years": "2019", "action": "no-such-action"}, headers=reader)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_bilan_needs_a_key(client, make_key, programme):
    assert client.get(URL, params={"years": "2019"}).status_code == 401
    operator_key = make_key("operator", operator_id=programme.alpha)
    assert (
        client.get(URL, params={"years": "2019", "action": programme.a1.code}, headers=operator_key).status_code == 200
    )


@pytest.mark.slow
def test_the_files_at_paths_of_their_own_are_those_of_format(client, reader, consolidated_2019, app):
    """SPEC C13: GET /bilan.xlsx, .pdf and .csv answer what `?format=` does, each declaring its one
    media type as a binary string, which openapi-python-client turns into a function giving bytes."""
    programme = consolidated_2019
    asked = {"years": "2019,2020", "as_of": "2020-06-30", "action": programme.a1.code}
    for extension, params in (("csv", {"dialect": "excel-fr"}), ("xlsx", {}), ("pdf", {})):
        by_format = client.get(URL, params={**asked, **params, "format": extension}, headers=reader)
        by_path = client.get(f"{URL}.{extension}", params={**asked, **params}, headers=reader)
        assert by_path.status_code == by_format.status_code == 200, by_path.text
        for header in ("content-type", "content-disposition"):
            assert by_path.headers[header] == by_format.headers[header]
        if extension == "csv":
            assert by_path.content == by_format.content
        elif extension == "xlsx":  # the workbook's properties carry the time it was written
            sheets = [load_workbook(io.BytesIO(answer.content)) for answer in (by_path, by_format)]
            assert [list(book.active.values) for book in sheets][0] == [list(book.active.values) for book in sheets][1]
        else:
            assert by_path.content.startswith(b"%PDF-") and by_format.content.startswith(b"%PDF-")
        declared = app.openapi()["paths"][f"{URL}.{extension}"]["get"]["responses"]["200"]["content"]
        assert list(declared.values()) == [{"schema": {"type": "string", "format": "binary"}}]
    assert client.get(f"{URL}.pdf", params=asked).status_code == 401
    assert client.get(f"{URL}.xlsx", params={"years": "1990"}, headers=reader).status_code == 422
