"""Statistical secrecy in the ESF+ report: a cell of 1 to PDI_MIN_CELL_SIZE − 1 persons is null
and named in its row's `suppressed` for a reader key, in JSON and in the files; admin keys and
the convention's own operator see it; a cell of exactly N persons is shown."""

import csv
import io

import pytest
from openpyxl import load_workbook

from app.core.config import get_settings
from tests.esf.conftest import API, COMPLETE, post_pathway
from tests.esf.test_report import _ours, build

MIN_SIZE = 5
URL = f"{API}/reports/esf"


@pytest.fixture(autouse=True)
def secrecy_on(monkeypatch):
    monkeypatch.setattr(get_settings(), "min_cell_size", MIN_SIZE)


def _block(client, headers, esf, year) -> dict:
    response = client.get(URL, params={"year": year}, headers=headers)
    assert response.status_code == 200, response.text
    return next(block for block in _ours(response.json(), esf) if block["convention_id"] == esf.cofunded.id)


def _rows(block) -> dict[str, dict]:
    return {row["indicator"]: row for row in block["rows"]}


def test_one_participant_is_not_described_to_a_reader(client, esf, admin):
    """2019: a single entrant, minority, homeless and a third-country national."""
    build(client, esf)
    rows = _rows(_block(client, esf.reader_key, esf, 2019))
    for indicator in ("participants", "minority", "homeless", "third_country_national", "aged_18_29"):
        assert rows[indicator]["values"] == {"F": 0, "M": 0, "X": None, "total": None}
        assert rows[indicator]["suppressed"] == ["X", "total"]
    # Zeros describe nobody: shown, and nothing listed.
    assert rows["disability"]["values"] == {"F": 0, "M": 0, "X": 0, "total": 0}
    assert "suppressed" not in rows["disability"]

    for headers in (admin, esf.operator_key):
        rows = _rows(_block(client, headers, esf, 2019))
        assert rows["homeless"]["values"] == {"F": 0, "M": 0, "X": 1, "total": 1}
        assert "suppressed" not in rows["homeless"]


def test_the_incomplete_count_and_the_files(client, esf):
    build(client, esf)
    block = _block(client, esf.reader_key, esf, 2020)
    assert block["incomplete"] is None and block["suppressed"] == ["incomplete"]
    text = client.get(URL, params={"year": 2020, "format": "csv"}, headers=esf.reader_key).text
    lines = [line for line in csv.DictReader(io.StringIO(text)) if line["convention_id"] == str(esf.cofunded.id)]
    participants = next(line for line in lines if line["indicator"] == "participants")
    assert (participants["incomplete"], participants["F"], participants["total"]) == ("s", "s", "s")
    assert next(line for line in lines if line["indicator"] == "inactive")["total"] == "0"
    workbook = client.get(
        f"{API}/reports/esf.xlsx", params={"year": 2020, "convention": esf.cofunded.id}, headers=esf.reader_key
    )
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    cells = [cell.value for cell in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert (cells[5], cells[-1]) == ("participants", "s")


def test_exactly_n_persons_are_shown_and_a_lone_sex_cell_is_not_given_back_by_the_total(client, esf):
    for number in range(MIN_SIZE):
        post_pathway(
            client,
            esf.operator_key,
            esf.cofunded.id,
            f"W{number}",
            entered_on="2020-03-02",
            beneficiary={"birth_year": 1980, "sex": "F"},
            participant=COMPLETE,
        )
    rows = _rows(_block(client, esf.reader_key, esf, 2020))
    assert rows["disability"]["values"] == {"F": MIN_SIZE, "M": 0, "X": 0, "total": MIN_SIZE}
    assert "suppressed" not in rows["disability"]

    post_pathway(
        client,
        esf.operator_key,
        esf.cofunded.id,
        "M1",
        entered_on="2020-03-02",
        beneficiary={"birth_year": 1980, "sex": "M"},
        participant=COMPLETE,
    )
    rows = _rows(_block(client, esf.reader_key, esf, 2020))
    # One man among six: his cell is withheld, and the women's too, or 6 − 5 would give it back.
    assert rows["participants"]["values"] == {"F": None, "M": None, "X": 0, "total": MIN_SIZE + 1}
    assert rows["participants"]["suppressed"] == ["F", "M"]
