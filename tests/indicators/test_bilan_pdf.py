"""GET /bilan?format=pdf (SPEC C13): an A4 PDF laid out by WeasyPrint from the HTML bilan, read
back with poppler's `pdftotext` and `pdftoppm`: a title page naming the département and the
years, every page numbered and none near-empty, the families and actions in the document's
order, each chart on the page of its heading, each bilan qualitatif on the page of its action's
table or the next.

Skipped without poppler-utils, except under CI=true (`.ci/run` installs it).
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.core.config import Settings, get_settings
from app.periods.models import Period, PeriodStatus
from tests.helpers import missing

pytestmark = pytest.mark.slow

URL = "/api/v1/bilan"
A4_POINTS = (595, 842)  # 210 × 297 mm


@pytest.fixture(scope="module")
def poppler():
    if shutil.which("pdftotext") and shutil.which("pdftoppm"):
        return
    missing(
        "poppler-utils is not installed (apt-get install poppler-utils); CI runs these tests",
        "poppler-utils is not installed, and CI=true: the PDF tests may not be skipped",
    )


@pytest.fixture
def pdf(poppler, app, client, reader, session, programme, tmp_path) -> tuple[Path, list[str], dict]:
    """The whole bilan 2019–2020 (the seed catalogue and the test programme) as a PDF, for a
    département named by the setting; its pages' texts and the JSON bilan."""
    session.merge(Period(year=2019, status=PeriodStatus.consolidated))
    session.commit()
    app.dependency_overrides[get_settings] = lambda: Settings(departement_name="Mayenne")
    params = {"years": "2019,2020", "as_of": "2020-06-30"}
    response = client.get(URL, params={**params, "format": "pdf"}, headers=reader)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-disposition"].endswith('.pdf"')
    assert response.content.startswith(b"%PDF-")
    path = tmp_path / "bilan.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]  # pdftotext ends the last page with a form feed too
    bilan = client.get(URL, params=params, headers=reader).json()
    return path, pages, bilan


def squeezed(text: str) -> str:
    return " ".join(text.split())


def test_the_pdf_has_a_title_page_and_numbered_pages_none_near_empty(pdf):
    path, pages, bilan = pdf
    actions = sum(len(family["actions"]) for family in bilan["families"])
    # A title page, the charts, then at most one page per action and one more per family.
    assert 3 <= len(pages) <= 2 + actions + len(bilan["families"]), len(pages)
    title = squeezed(pages[0])
    assert "Mayenne" in title
    assert "Bilan des actions du Programme Départemental d'Insertion" in title
    assert "2019 – 2020" in title
    assert "Page " not in title  # the title page carries no number
    for number, page in enumerate(pages[1:], start=2):
        words = page.split()
        assert f"Page {number} / {len(pages)}" in squeezed(page), f"page {number} has no page number"
        # Beyond the running title and the number: some content.
        assert len(words) > 20, f"page {number} is near-empty: {squeezed(page)!r}"
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert (round(width), round(height)) == A4_POINTS


def test_the_pages_render_as_images_with_ink_on_each(pdf, tmp_path):
    path, pages, _bilan = pdf
    subprocess.run(["pdftoppm", "-r", "30", "-gray", str(path), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.pgm"))
    assert len(images) == len(pages)
    for image, text in zip(images, pages):
        pixels = image.read_bytes().split(b"\n", 3)[3]  # P5 header: magic, size, maxval
        inked = sum(1 for value in pixels if value < 192)
        # Beyond a running title and a page number: a few lines of text at least.
        assert inked > len(pixels) * 0.004, f"{image.name} is almost blank: {squeezed(text)!r}"


def test_families_actions_charts_and_assessments_where_the_document_puts_them(pdf):
    _path, pages, bilan = pdf
    flat = [squeezed(page) for page in pages]
    # Families, then their actions, in the document's order, after the charts' pages.
    charts_end = next(index for index, page in enumerate(flat) if "Sorties par année" in page)
    body = " ".join(flat[charts_end + 1 :])
    headings = []
    for family in bilan["families"]:
        headings.append(family["name"])
        headings += [f"{action['number']}. {action['name']}" for action in family["actions"]]
    positions = [body.find(heading) for heading in headings]
    assert -1 not in positions, [heading for heading, at in zip(headings, positions) if at == -1]
    assert positions == sorted(positions)
    # Each chart on the page of its heading (its legend and first label drawn there).
    for title, drawn in (
        ("Taux de réalisation par action", "Juin 2020 (non consolidé)"),
        ("Budget par famille d'actions", bilan["families"][0]["name"]),
        ("Sorties par année", "Emploi durable"),
    ):
        page = next(page for page in flat if title in page)
        assert drawn in page.split(title, 1)[1], title
    # Each bilan qualitatif: its first point on the page of its action's heading or the next.
    for family in bilan["families"]:
        for action in family["actions"]:
            if action["assessment"] is None:
                continue
            heading = f"{action['number']}. {action['name']}"
            first = next(index for index, page in enumerate(flat) if index > charts_end and heading in page)
            point = squeezed(action["assessment"]["points"][0])[:40]
            assert any(point in page for page in flat[first : first + 2]), heading
