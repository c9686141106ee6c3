"""CSV as French offices write it (SPEC C13): days as JJ/MM/AAAA and decimals with a comma
besides ISO, `;` or `,` between cells, a byte-order mark or not; each item's result and error
name its line (the header is line 1). JSON keeps its strict ISO forms."""

from datetime import date

import pytest

from app.pathways.models import Pathway
from tests.pathways.helpers import API, assert_problem, stored_pathway

URL = f"{API}/exit-records"


def exit_of(session, pathway_id):
    session.expire_all()
    row = session.get(Pathway, pathway_id)
    return row.exited_on, row.exit_reason, row.hours


@pytest.fixture
def entered(session, world):
    """Four active pathways of operator A's convention (refs É-0 … É-3, entered on 1 Feb 2019)."""
    return [stored_pathway(session, world.convention.id, f"É-{n}", entered_on=date(2019, 2, 1)) for n in range(4)]


def _post(client, headers, body: bytes, charset: str | None = None, **params):
    media_type = "text/csv" + (f"; charset={charset}" if charset else "")
    return client.post(URL, content=body, headers={**headers, "Content-Type": media_type}, params=params)


def _spreadsheet(world, entered) -> str:
    """What LibreOffice Calc or Excel in French save as "CSV (séparateur : point-virgule)": cells
    between `;`, text quoted where the program chooses to, days and decimals as displayed, CRLF
    line ends, a blank line and a line of empty cells where rows were cleared."""
    return (
        "pathway_id;convention_id;beneficiary_ref;entered_on;exited_on;exit_reason;hours\r\n"
        f"{entered[0].id};;;;30/06/2019;training;35,5\r\n"
        f';{world.convention.id};"É-1";01/02/2019;1/7/2019;"employment_cdi";120\r\n'
        "\r\n"
        ";;;;;;\r\n"
        f"{entered[2].id};;;;2019-07-31;completed;12.25\r\n"
        f"{entered[3].id};;;;31/02/2019;training;\r\n"
    )


@pytest.mark.parametrize(
    ("encoding", "charset"),
    [("utf-8-sig", None), ("utf-8-sig", "utf-8"), ("cp1252", "windows-1252")],
    ids=["csv-utf8-with-bom", "bom-and-charset", "windows-1252"],
)
def test_a_file_as_a_french_spreadsheet_saves_it(client, session, world, entered, encoding, charset):
    response = _post(client, world.operator_key, _spreadsheet(world, entered).encode(encoding), charset)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["index"], r["line"], r["status"]) for r in results] == [
        (0, 2, "created"),
        (1, 3, "created"),
        (2, 6, "created"),
        (3, 7, "error"),
    ]
    assert exit_of(session, entered[0].id) == (date(2019, 6, 30), "training", 35.5)
    assert exit_of(session, entered[1].id) == (date(2019, 7, 1), "employment_cdi", 120)
    assert exit_of(session, entered[2].id) == (date(2019, 7, 31), "completed", 12.25)
    problem = results[3]["problem"]
    assert problem["line"] == 7 and problem["status"] == 422
    assert [error["loc"] for error in problem["errors"]] == [["exited_on"]]  # 31 February is no day
    assert exit_of(session, entered[3].id)[0] is None


def test_comma_separated_with_a_quoted_decimal_comma(client, session, world, entered):
    body = f'pathway_id,exited_on,exit_reason,hours\n{entered[0].id},30/06/2019,training,"35,5"\n'
    response = _post(client, world.operator_key, body.encode())
    assert [r["status"] for r in response.json()["results"]] == ["created"]
    assert exit_of(session, entered[0].id) == (date(2019, 6, 30), "training", 35.5)


def test_a_semicolon_file_with_decimal_commas_is_not_read_as_comma_separated(client, session, world, entered):
    """The separator comes from the header, which holds no decimal: the commas in the rows stay
    decimal commas, even where they outnumber the semicolons."""
    body = f"pathway_id;hours;exited_on;exit_reason\n{entered[0].id};1,5;30/06/2019;training\n"
    response = _post(client, world.operator_key, body.encode())
    assert response.json()["counts"]["created"] == 1, response.text
    assert exit_of(session, entered[0].id)[2] == 1.5


def test_each_error_names_its_line_across_quoted_line_breaks(client, world, entered):
    body = (
        "pathway_id;exited_on;exit_reason\n"  # line 1
        f"{entered[0].id};30/06/2019;training\n"  # line 2
        '999999;30/06/2019;"training\n'  # lines 3 and 4: one record with a line break in a cell
        'still the reason"\n'
        "\n"  # line 5: blank
        f"{entered[1].id};2019/06/30;training\n"  # line 6: not a day
        f"{entered[2].id};30-06-2019;training\n"  # line 7: not a day either
    )
    results = _post(client, world.operator_key, body.encode()).json()["results"]
    assert [(r["line"], r["status"]) for r in results] == [(2, "created"), (3, "error"), (6, "error"), (7, "error")]
    assert [r["problem"]["line"] for r in results[1:]] == [3, 6, 7]


def test_an_atomic_csv_batch_names_the_lines_of_its_errors(client, world, entered, nothing_stored):
    body = f"pathway_id;exited_on;exit_reason\n{entered[0].id};30/06/2019;training\n\n{entered[1].id};x;training\n"
    with nothing_stored():
        problem = assert_problem(_post(client, world.operator_key, body.encode(), atomic="true"), 422)
    assert [(r["line"], r["status"]) for r in problem["results"]] == [(2, "created"), (4, "error")]


@pytest.mark.parametrize(
    ("field", "value"), [("exited_on", "30/06/2019"), ("hours", "35,5"), ("exited_on", "2019-6-30")]
)
def test_json_keeps_its_strict_forms(client, world, entered, field, value):
    item = {"pathway_id": entered[0].id, "exited_on": "2019-06-30", "exit_reason": "training", field: value}
    result = client.post(URL, json=[item], headers=world.operator_key).json()["results"][0]
    assert result["status"] == "error" and result["line"] is None
    assert [error["loc"] for error in result["problem"]["errors"]] == [[field]]
    assert "line" not in result["problem"]


@pytest.mark.parametrize("cell", ["2019-6-30", "30/6/19", "30.06.2019", "35,5"])
def test_other_day_forms_are_errors_in_csv_too(client, world, entered, cell):
    body = f"pathway_id;exited_on;exit_reason\n{entered[0].id};{cell};training\n"
    result = _post(client, world.operator_key, body.encode()).json()["results"][0]
    assert (result["status"], result["line"]) == ("error", 2)
