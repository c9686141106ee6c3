"""GET /reports/esf (SPEC C9) on hand-built cases: every indicator by sex, a person with two
pathways in one convention counted once, an incomplete record, a convention without FSE money
absent, the rights, the formats, and the same counts after retention."""

import csv
import io

from openpyxl import load_workbook

from app.core.caller import CLI
from app.core.time import today
from app.esf.reporting.indicators import ESF_CODES
from app.pathways.retention import apply_retention
from tests.esf.conftest import API, COMPLETE, post_pathway


def _exit(client, headers, pathway_id, exited_on, reason, **leaving):
    response = client.post(
        f"{API}/pathways/{pathway_id}/exit",
        json={"exited_on": exited_on, "exit_reason": reason, **leaving},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def _follow_up(client, headers, pathway_id, observed_on, situation, improved=None):
    item = {"pathway_id": pathway_id, "observed_on": observed_on, "situation": situation}
    if improved is not None:
        item["improved_situation"] = improved
    answer = client.post(f"{API}/follow-ups", json=[item], headers=headers).json()
    assert answer["counts"]["created"] == 1, answer


def build(client, esf) -> None:
    key, conv = esf.operator_key, esf.cofunded.id
    # A: a girl of 17 in 2020, rural, complete; two pathways in 2020, counted once; her last exit
    # is to a CDI with a qualification, and she is in employment six months later.
    a = {"birth_year": 2003, "sex": "F", "territory": "rural"}
    first = post_pathway(client, key, conv, "A", entered_on="2020-01-06", beneficiary=a, participant=COMPLETE)
    _exit(client, key, first["id"], "2020-02-01", "dropped_out")
    second = post_pathway(
        client,
        key,
        conv,
        "A",
        prescribed_on="2020-03-01",
        entered_on="2020-03-02",
        beneficiary=a,
        participant=COMPLETE | {"labour_status": "inactive", "education": "isced_5_8"},
    )
    _exit(client, key, second["id"], "2020-06-30", "employment_cdi", qualification_gained=True)
    _follow_up(client, key, second["id"], "2020-12-01", "employed_cdi", True)
    # B: a man of 60, employed, tertiary education, leaves for a training.
    b = post_pathway(
        client,
        key,
        conv,
        "B",
        entered_on="2020-02-03",
        beneficiary={"birth_year": 1960, "sex": "M"},
        participant={
            "labour_status": "employed",
            "education": "isced_5_8",
            "disability": "no",
            "third_country_national": "no",
            "foreign_background": "no",
            "minority": "no",
            "homeless": "no",
        },
    )
    _exit(client, key, b["id"], "2020-09-01", "training")
    _follow_up(client, key, b["id"], "2021-02-15", "job_seeking", False)
    # C: sex not recorded, incomplete: in participants (total) and incomplete only; leaves inactive.
    c = post_pathway(
        client,
        key,
        conv,
        "C",
        entered_on="2020-04-01",
        beneficiary={"birth_year": 1995},
        participant={"education": "isced_3_4"},
    )
    _exit(client, key, c["id"], "2020-10-01", "other", labour_status_on_leaving="inactive")
    # D: X, entered in 2019 (an entrant of 2019, not of 2020), left in 2020 job searching, back since.
    d_fields = {"birth_year": 1990, "sex": "X"}
    d = post_pathway(
        client,
        key,
        conv,
        "D",
        entered_on="2019-11-04",
        beneficiary=d_fields,
        participant={
            "labour_status": "unemployed",
            "education": "isced_3_4",
            "disability": "undisclosed",
            "third_country_national": "yes",
            "foreign_background": "no",
            "minority": "yes",
            "homeless": "yes",
        },
    )
    _exit(client, key, d["id"], "2020-03-01", "moved")
    post_pathway(client, key, conv, "D", prescribed_on="2020-05-01", entered_on="2020-05-04", beneficiary=d_fields)
    # E: a convention without FSE money; F: operator B's co-funded convention.
    post_pathway(client, key, esf.plain.id, "E", entered_on="2020-02-03", participant=COMPLETE)
    post_pathway(
        client,
        esf.other_operator_key,
        esf.other_cofunded.id,
        "F",
        entered_on="2020-02-03",
        beneficiary={"sex": "F", "birth_year": 1980},
        participant=COMPLETE,
    )


def _ours(report, esf) -> list[dict]:
    """The report's conventions among this test's (the seed catalogue has co-funded ones too,
    without pathways)."""
    ids = {esf.cofunded.id, esf.other_cofunded.id, esf.plain.id}
    return [block for block in report["conventions"] if block["convention_id"] in ids]


def _values(block) -> dict[str, dict]:
    return {row["indicator"]: row["values"] for row in block["rows"]}


def v(F=0, M=0, X=0, total=None):  # noqa: N803 (the report's keys)
    return {"F": F, "M": M, "X": X, "total": F + M + X if total is None else total}


EXPECTED_2020 = {
    "participants": v(F=1, M=1, total=3),
    "unemployed": v(),
    "long_term_unemployed": v(),
    "inactive": v(F=1),  # the characteristics of her first entry's pathway... see below
    "employed": v(M=1),
    "under_18": v(F=1),
    "aged_18_29": v(),
    "aged_55_plus": v(M=1),
    "isced_0_2": v(),
    "isced_3_4": v(),
    "isced_5_8": v(F=1, M=1),
    "disability": v(F=1),
    "third_country_national": v(),
    "foreign_background": v(F=1),
    "minority": v(),
    "homeless": v(),
    "rural": v(F=1),
    "job_searching_on_leaving": v(X=1),
    "in_education_on_leaving": v(M=1),
    "qualification_on_leaving": v(F=1),
    "employed_on_leaving": v(F=1),
    "employed_6_months": v(F=1),
    "improved_situation_6_months": v(F=1),
}


def test_every_indicator_by_sex(client, esf, admin):
    build(client, esf)
    report = client.get(f"{API}/reports/esf", params={"year": 2020}, headers=admin).json()
    assert [c["convention_id"] for c in _ours(report, esf)] == [esf.cofunded.id, esf.other_cofunded.id]
    mine = _ours(report, esf)[0]
    assert mine["reference"] == esf.cofunded.reference and mine["incomplete"] == 1
    assert [row["indicator"] for row in mine["rows"]] == list(ESF_CODES)
    expected = EXPECTED_2020 | {
        # A's first entry in 2020 is her first pathway, recorded long-term unemployed, ISCED 0-2.
        "unemployed": v(F=1),
        "long_term_unemployed": v(F=1),
        "inactive": v(),
        "isced_0_2": v(F=1),
        "isced_5_8": v(M=1),
    }
    assert _values(mine) == expected
    rows = {row["indicator"]: row for row in mine["rows"]}
    assert rows["unemployed"]["code"] == "EECO02" and rows["disability"]["code"] == "EECO12"
    assert rows["participants"]["label"] and rows["rural"]["code"] is None
    # The total adds operator B's convention (one woman of 40, complete).
    total = _values(report["total"])
    assert total["participants"] == v(F=2, M=1, total=4)
    assert total["long_term_unemployed"] == v(F=2)
    assert total["employed_on_leaving"] == v(F=1)
    assert report["total"]["incomplete"] == 1


def test_the_2019_entrant_counts_in_2019(client, esf, admin):
    build(client, esf)
    report = client.get(f"{API}/reports/esf", params={"year": 2019}, headers=admin).json()
    assert [c["convention_id"] for c in _ours(report, esf)] == [esf.cofunded.id]
    values = _values(_ours(report, esf)[0])
    assert values["participants"] == v(X=1)
    assert values["unemployed"] == values["aged_18_29"] == values["homeless"] == values["minority"] == v(X=1)
    assert values["third_country_national"] == values["isced_3_4"] == v(X=1)
    assert values["long_term_unemployed"] == values["disability"] == values["foreign_background"] == v()
    assert values["job_searching_on_leaving"] == v()


def test_who_reads_the_report(client, esf, admin):
    build(client, esf)
    reader = client.get(f"{API}/reports/esf", params={"year": 2020}, headers=esf.reader_key)
    assert reader.status_code == 200 and len(_ours(reader.json(), esf)) == 2
    mine = client.get(f"{API}/reports/esf", params={"year": 2020}, headers=esf.operator_key).json()
    assert [c["convention_id"] for c in mine["conventions"]] == [esf.cofunded.id]
    assert _values(mine["total"]) == _values(mine["conventions"][0])
    theirs = client.get(
        f"{API}/reports/esf", params={"year": 2020, "convention": esf.other_cofunded.id}, headers=esf.operator_key
    ).json()
    assert theirs["conventions"] == [] and _values(theirs["total"])["participants"] == v()
    assert client.get(f"{API}/reports/esf", params={"year": 2020}, headers=esf.portal_key).status_code == 403
    assert client.get(f"{API}/reports/esf", params={"year": 2020}).status_code == 401
    one = client.get(f"{API}/reports/esf", params={"year": 2020, "convention": esf.cofunded.id}, headers=admin)
    assert [c["convention_id"] for c in one.json()["conventions"]] == [esf.cofunded.id]


def test_csv_in_both_dialects_and_xlsx(client, esf, admin):
    build(client, esf)
    report = client.get(f"{API}/reports/esf", params={"year": 2020}, headers=admin).json()
    plain = client.get(f"{API}/reports/esf", params={"year": 2020, "format": "csv"}, headers=admin)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(plain.text)))
    assert len(lines) == (len(report["conventions"]) + 1) * len(ESF_CODES)
    (first,) = [line for line in lines if line["convention_id"] == str(esf.cofunded.id)][:1]
    assert (first["convention_id"], first["indicator"], first["F"], first["total"]) == (
        str(esf.cofunded.id),
        "participants",
        "1",
        "3",
    )
    assert lines[-1]["reference"] == "TOTAL" and lines[-1]["indicator"] == "improved_situation_6_months"
    french = client.get(
        f"{API}/reports/esf", params={"year": 2020, "format": "csv", "dialect": "excel-fr"}, headers=admin
    )
    assert french.text.startswith("\ufeff") and french.text.splitlines()[0].count(";") == 11
    assert list(csv.DictReader(io.StringIO(french.text.lstrip("\ufeff")), delimiter=";")) == lines
    workbook = client.get(
        f"{API}/reports/esf", params={"year": 2020, "format": "xlsx", "convention": esf.cofunded.id}, headers=admin
    )
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    cells = [cell.value for cell in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert (cells[1], cells[5], cells[-1]) == (esf.cofunded.id, "participants", 3)
    assert isinstance(cells[-1], int)
    assert (
        client.get(f"{API}/reports/esf", params={"year": 2020, "dialect": "excel-fr"}, headers=admin).status_code == 422
    )


def test_retention_keeps_the_counts_of_a_closed_year(client, session, esf, admin):
    build(client, esf)
    before = client.get(f"{API}/reports/esf", params={"year": 2020}, headers=admin).json()
    report = apply_retention(session=session, caller=CLI, ended_before=today(), dry_run=False)
    session.commit()
    assert report.pathways_detached >= 4
    after = client.get(f"{API}/reports/esf", params={"year": 2020}, headers=admin).json()
    assert after == before
    (ours,) = _ours(client.get(f"{API}/reports/esf", params={"year": 2019}, headers=admin).json(), esf)
    assert _values(ours)["participants"] == v(X=1)
    assert not client.get(f"{API}/pathways", headers=admin).json()["items"][0]["beneficiary_id"]


def test_the_files_at_paths_of_their_own_are_those_of_format(client, esf, admin, app):
    """SPEC C13: /reports/esf.xlsx and .csv answer the same files as `?format=`, each declaring its
    one media type as a binary string (what a generated client reads as bytes)."""
    build(client, esf)
    for extension, params in (("csv", {"dialect": "excel-fr"}), ("xlsx", {"convention": esf.cofunded.id})):
        asked = {"year": 2020, **params}
        by_format = client.get(f"{API}/reports/esf", params={**asked, "format": extension}, headers=admin)
        by_path = client.get(f"{API}/reports/esf.{extension}", params=asked, headers=admin)
        assert by_path.status_code == by_format.status_code == 200
        if extension == "csv":
            assert by_path.content == by_format.content
        else:  # the workbook's properties and zip entries carry the second it was written
            sheets = [load_workbook(io.BytesIO(answer.content)).active for answer in (by_path, by_format)]
            assert list(sheets[0].values) == list(sheets[1].values)
        assert by_path.headers["content-type"] == by_format.headers["content-type"]
        assert by_path.headers["content-disposition"] == by_format.headers["content-disposition"]
        declared = app.openapi()["paths"][f"{API}/reports/esf.{extension}"]["get"]["responses"]["200"]["content"]
        assert list(declared.values()) == [{"schema": {"type": "string", "format": "binary"}}]
    assert client.get(f"{API}/reports/esf.csv", params={"year": 2020}).status_code == 401
