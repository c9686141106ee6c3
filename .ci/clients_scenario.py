"""A client team's first hour, with the Python client openapi-python-client generated from the
committed OpenAPI document (.ci/clients generates it, starts a server and runs this).

    python .ci/clients_scenario.py BASE_URL ADMIN_KEY   # `pdi_client` importable

Every step checks the typed value the generated client gives back (not the raw JSON): any
mismatch between the document and the answers fails loudly with the step's name.
"""

import datetime
import io
import sys
import uuid
import zipfile

import httpx
from pdi_client import AuthenticatedClient, Client
from pdi_client.api.availability import list_availability
from pdi_client.api.changes import list_changes
from pdi_client.api.esf import get_esf_report_csv, get_esf_report_xlsx
from pdi_client.api.families import create_family, list_families
from pdi_client.api.indicators import get_bilan, get_bilan_csv, get_bilan_pdf, get_bilan_xlsx
from pdi_client.api.pathways import create_pathway, get_pathway
from pdi_client.models import (
    AvailabilityPage,
    AvailabilityRead,
    BilanRead,
    ChangesPage,
    CsvDialect,
    FamilyChange,
    FamilyCreate,
    FamilyRead,
    PageFamilyRead,
    PathwayChange,
    PathwayCreate,
    PathwayRead,
    Problem,
    ProblemItem,
)
from pdi_client.types import File

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The demo's conventions run 2018-2021 (`pdi bootstrap` loads them).
ON = datetime.date(2021, 6, 1)


class Mismatch(AssertionError):
    pass


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise Mismatch(what)


def typed(value, kind, step: str):
    expect(isinstance(value, kind), f"{step}: expected a {kind.__name__}, got {type(value).__name__}: {value!r:.300}")
    return value


def feed_head(admin: AuthenticatedClient) -> int:
    """The feed's current end: page through from 0 (each page typed) until a page is empty."""
    after = 0
    while True:
        page = typed(list_changes.sync(client=admin, after=after, limit=1000), ChangesPage, "feed replay")
        if not page.items:
            return after
        after = page.next_  # `next`, renamed by the generator (a builtin)


def main(base_url: str, key: str) -> None:
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    # The bilan's PDF takes some seconds to lay out: more than httpx's default 5 s.
    admin = AuthenticatedClient(
        base_url=base_url, token=key, raise_on_unexpected_status=True, timeout=httpx.Timeout(120.0)
    )

    families = typed(list_families.sync(client=anonymous), PageFamilyRead, "list families")
    expect(families.total >= 1 and families.items, "list families: the seeded catalogue has families")
    for family in families.items:
        typed(family, FamilyRead, "list families: item")
    print(f"ok  list families: {families.total}, e.g. {families.items[0].code}")

    availability = typed(list_availability.sync(client=anonymous, on=ON), AvailabilityPage, "availability")
    expect(availability.on == ON and availability.items, f"availability on {ON}: conventions running")
    convention = typed(availability.items[0], AvailabilityRead, "availability: item")
    print(f"ok  availability on {ON}: {availability.total} conventions, e.g. #{convention.convention_id}")

    head = feed_head(admin)
    body = PathwayCreate(convention_id=convention.convention_id, beneficiary_ref=f"CI-{uuid.uuid4()}", prescribed_on=ON)
    created = typed(create_pathway.sync(client=admin, body=body), PathwayRead, "prescription")
    expect(created.convention_id == convention.convention_id, "prescription: its convention")
    read_back = typed(get_pathway.sync(client=admin, pathway_id=created.id), PathwayRead, "prescription read back")
    expect(read_back.id == created.id and read_back.status == created.status, "prescription read back: the same")
    print(f"ok  prescription: pathway #{created.id}, {created.status}")

    conflict = create_family.sync(client=admin, body=FamilyCreate(code=families.items[0].code, name="Again"))
    conflict = typed(conflict, Problem, "409")
    expect(conflict.status == 409 and conflict.type_.endswith("/conflict"), f"409: a conflict problem, got {conflict}")
    print(f"ok  409 as a typed Problem: {conflict.detail}")

    invalid = PathwayCreate(convention_id=0, beneficiary_ref="CI-invalid", prescribed_on=ON)
    invalid = typed(create_pathway.sync(client=admin, body=invalid), Problem, "422")
    expect(invalid.status == 422 and isinstance(invalid.errors, list) and invalid.errors, f"422: its errors: {invalid}")
    item = typed(invalid.errors[0], ProblemItem, "422: an error item")
    expect(item.loc == ["body", "convention_id"] and isinstance(item.msg, str), f"422: loc and msg, got {item}")
    print(f"ok  422 as a typed Problem: {item.loc} {item.msg}")

    bilan = typed(get_bilan.sync(client=admin, years="2019"), BilanRead, "bilan (JSON)")
    expect(bilan.years == [2019] and bilan.families, "bilan (JSON): the year asked, its families")
    # The files through their own generated functions, each giving a File of bytes.
    answer = get_bilan_xlsx.sync_detailed(client=admin, years="2019")
    expect(answer.status_code == 200, f"bilan (XLSX): status {answer.status_code}")
    expect(answer.headers["content-type"] == XLSX, f"bilan (XLSX): content type {answer.headers['content-type']}")
    xlsx = typed(answer.parsed, File, "bilan (XLSX)").payload.read()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as workbook:
        expect("xl/workbook.xml" in workbook.namelist(), "bilan (XLSX): a workbook")
    pdf = typed(get_bilan_pdf.sync(client=admin, years="2019"), File, "bilan (PDF)").payload.read()
    expect(pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:], f"bilan (PDF): a PDF, got {pdf[:20]!r}")
    csv = typed(
        get_bilan_csv.sync(client=admin, years="2019", dialect=CsvDialect.EXCEL_FR), File, "bilan (CSV)"
    ).payload.read()
    expect(csv.startswith("\ufeff".encode()) and b";" in csv.splitlines()[1], "bilan (CSV, excel-fr): BOM and `;`")
    print(f"ok  bilan: JSON typed, XLSX {len(xlsx):,} bytes, PDF {len(pdf):,} bytes, CSV {len(csv):,} bytes as Files")
    report = typed(get_esf_report_xlsx.sync(client=admin, year=2020), File, "ESF+ report (XLSX)").payload.read()
    with zipfile.ZipFile(io.BytesIO(report)) as workbook:
        expect("xl/workbook.xml" in workbook.namelist(), "ESF+ report (XLSX): a workbook")
    rows = typed(get_esf_report_csv.sync(client=admin, year=2020), File, "ESF+ report (CSV)").payload.read()
    expect(b"indicator" in rows.splitlines()[0], "ESF+ report (CSV): its header")
    print(f"ok  ESF+ report: XLSX {len(report):,} bytes, CSV {len(rows):,} bytes as Files")

    page = typed(list_changes.sync(client=admin, after=head, limit=100), ChangesPage, "feed page")
    mine = [change for change in page.items if isinstance(change, PathwayChange) and change.id == str(created.id)]
    expect(len(mine) == 1, f"feed page: the new pathway once, got {[(c.kind, c.id) for c in page.items]}")
    expect(isinstance(mine[0].data, PathwayRead) and mine[0].data.id == created.id, "feed page: typed pathway data")
    replay = typed(list_changes.sync(client=anonymous, after=0, limit=20), ChangesPage, "feed page (public)")
    families_seen = [change for change in replay.items if isinstance(change, FamilyChange)]
    expect(families_seen and all(isinstance(c.data, FamilyRead) for c in families_seen), "feed: typed family data")
    print(f"ok  feed: {len(page.items)} item(s) after {head}, the new pathway typed; families typed from 0")


if __name__ == "__main__":
    try:
        main(*sys.argv[1:3])
    except Mismatch as exc:
        sys.exit(f"FAIL  client scenario: {exc}")
