"""POST /imports/data-inclusion/structures: operators (by SIRET) and sites (by the structure's id)
from data·inclusion's template or its API's JSON, item by item, idempotent, all or nothing on
request, audited and in the feed (SPEC C12)."""

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from app.audit.models import AuditEvent
from app.catalogue.models import Operator, Site
from app.core import time as clock
from tests.changes.test_feed import everything, latest
from tests.exports.validata import FIXTURES
from tests.factories import row_counts

URL = "/api/v1/imports/data-inclusion/structures"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXAMPLE = FIXTURES / "data-inclusion-template-example.xlsx"


def post_xlsx(client, headers, content: bytes, **query):
    return client.post(URL, headers=headers | {"content-type": XLSX}, content=content, params=query)


def problem_fields(item: dict) -> set[str]:
    return {error["loc"][-1] for error in item["problem"]["errors"]}


def corrected_example() -> bytes:
    """data·inclusion's example with its example row 3 no longer marked to be ignored and its row
    4's mistakes (a 6-digit postcode, an e-mail and a website that are none) corrected."""
    workbook = load_workbook(EXAMPLE)
    sheet = workbook["Structures"]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(3, header.index("__ignore__") + 1).value = None
    for name, value in (("code_postal", "75012"), ("courriel", "contact@actionlogement.fr")):
        sheet.cell(4, header.index(name) + 1).value = value
    sheet.cell(4, header.index("site_web") + 1).value = "https://www.actionlogement.fr"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_the_example_template_bad_rows_are_refused_naming_the_field(client, session, admin):
    before = row_counts(session, Operator, Site)
    response = post_xlsx(client, admin, EXAMPLE.read_bytes())
    assert response.status_code == 200, response.text
    body = response.json()
    # Row 3 is the template's example, marked in __ignore__; row 4 is wrong on purpose.
    (item,) = body["items"]
    assert (item["line"], item["status"]) == (4, "error")
    assert problem_fields(item) >= {"code_postal", "courriel", "site_web"}
    messages = {error["loc"][-1]: error["msg"] for error in item["problem"]["errors"]}
    assert "5 characters" in messages["code_postal"]  # the schema's own reason (pydantic's words)
    assert body["counts"] == {"created": 0, "updated": 0, "unchanged": 0, "error": 1}
    assert row_counts(session, Operator, Site) == before


@pytest.mark.slow
def test_importing_the_corrected_example_twice_creates_then_leaves_unchanged(client, session, admin):
    content = corrected_example()
    first = post_xlsx(client, admin, content).json()
    by_line = {item["line"]: item for item in first["items"]}
    assert [item["line"] for item in first["items"]] == [3, 4]  # the file's order
    # Le Biclou's SIRET fails its check digits, which the catalogue verifies.
    assert by_line[3]["status"] == "error" and problem_fields(by_line[3]) == {"siret"}
    assert by_line[4]["status"] == "created"
    operator = session.get(Operator, by_line[4]["operator_id"])
    assert (operator.siret, operator.name, operator.postcode) == ("82454114801871", "AGENCE ACTION LOGEMENT.", "75012")
    site = session.get(Site, by_line[4]["site_id"])
    assert (site.operator_id, site.data_inclusion_id, site.commune) == (
        operator.id,
        "005d3060-c322-4ec5-bd70-a60f054d3b81",
        "PARIS",
    )
    audited = session.exec(
        select(AuditEvent.entity).where(AuditEvent.entity_id.in_([operator.id, site.id]), AuditEvent.action == "create")
    ).all()
    assert {"operator", "site"} <= set(audited)
    state = latest(everything(client, admin)[0])
    assert ("operator", str(operator.id)) in state and ("site", str(site.id)) in state

    before = row_counts(session, Operator, Site)
    second = post_xlsx(client, admin, content).json()
    assert [(item["line"], item["status"]) for item in second["items"]] == [(3, "error"), (4, "unchanged")]
    assert second["items"][1]["operator_id"] == operator.id
    assert row_counts(session, Operator, Site) == before


STRUCTURE = {
    "source": "dora",
    "id": "dora--tremplin-le-mans",
    "nom": "Tremplin Le Mans",
    "date_maj": "2026-11-02",
    "siret": "13003013300016",
    "commune": "Le Mans",
    "code_postal": "72000",
    "code_insee": "72181",
    "adresse": "12 rue de la Paix",
    "latitude": 48.0,
    "longitude": 0.2,
    "courriel": "contact@tremplin.fr",
}


def test_json_structures_of_one_operator_make_one_operator_and_its_sites(client, session, admin):
    second_site = STRUCTURE | {"id": "dora--tremplin-allonnes", "nom": "Tremplin Allonnes", "commune": "Allonnes"}
    body = client.post(URL, headers=admin, json=[STRUCTURE, second_site]).json()
    assert [item["status"] for item in body["items"]] == ["created", "created"]
    assert body["items"][0]["operator_id"] == body["items"][1]["operator_id"]
    operator = session.get(Operator, body["items"][0]["operator_id"])
    assert operator.name == "Tremplin Le Mans"  # the first structure naming the SIRET
    again = client.post(URL, headers=admin, json={"items": [STRUCTURE, second_site]}).json()  # as a page
    assert [item["status"] for item in again["items"]] == ["unchanged", "unchanged"]

    moved = client.post(URL, headers=admin, json=[STRUCTURE | {"adresse": "3 place de la République"}]).json()
    assert moved["items"][0]["status"] == "updated"
    assert session.get(Site, moved["items"][0]["site_id"]).address == "3 place de la République"


def test_a_structure_without_date_maj_imports_when_the_departements_day_is_ahead(client, admin, monkeypatch):
    """Between 23:00 and midnight UTC in winter, Paris is on the next day: a structure without
    date_maj (the template's rows may leave it empty) takes the day the schema accepts."""
    ahead = date.today() + timedelta(days=1)
    monkeypatch.setattr(clock, "today", lambda: ahead)
    structure = {name: value for name, value in STRUCTURE.items() if name != "date_maj"}
    body = client.post(URL, headers=admin, json=[structure]).json()
    assert [item["status"] for item in body["items"]] == ["created"], body


def test_atomic_stores_nothing_when_one_structure_is_bad(client, session, admin):
    before = row_counts(session, Operator, Site)
    bad = STRUCTURE | {"id": "dora--sans-siret", "siret": None}
    response = client.post(URL, headers=admin, params={"atomic": "true"}, json=[STRUCTURE, bad])
    assert response.status_code == 422
    body = response.json()
    assert [item["status"] for item in body["items"]] == ["created", "error"]
    assert problem_fields(body["items"][1]) == {"siret"}
    assert row_counts(session, Operator, Site) == before


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"content-type": "text/csv"}, 415)],
)
def test_only_an_admin_may_import_and_only_the_template_or_json(client, admin, headers, status):
    auth = admin if status == 415 else {}
    response = client.post(
        URL, headers=auth | headers | {"content-type": headers.get("content-type", XLSX)}, content=b"x"
    )
    assert response.status_code == status, response.text


def test_a_reader_key_is_refused(client, reader):
    assert client.post(URL, headers=reader, json=[STRUCTURE]).status_code == 403
