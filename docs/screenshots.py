"""Remake docs/API-GUIDE.md's screenshots of the bilan from the demo data set:

    .venv/bin/python docs/screenshots.py

- docs/bilan-html.png: the HTML bilan 2018–2020, as the browser tests open it (Playwright
  driving Debian's `/usr/bin/chromium`, with the flags of tests/indicators/browser.py);
- docs/bilan-xlsx-summary.png: the XLSX's summary sheet, as LibreOffice prints it
  (`libreoffice --headless --convert-to pdf`, then `pdftoppm`; Debian packages
  libreoffice-calc-nogui and poppler-utils);
- docs/bilan-phone.png: the same page on a 390 px phone, at the first family (its tables' rows
  reflowed into cards, a line per year);
- docs/bilan-pdf-pages.png: the first pages of the PDF bilan (GET /bilan?format=pdf) side by
  side, as `pdftoppm` draws them.

Works in a temporary SQLite database (migrated, seed catalogue, `pdi demo` at scale 1), never
the one in DATABASE_URL.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="pdi-screenshots-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'demo.db'}"
os.environ.setdefault("PDI_SECRET_KEY", "screenshots-only-secret-key-not-for-production")

from sqlmodel import Session  # noqa: E402

from app.core.engines import make_engine  # noqa: E402
from app.core.migrate import upgrade_head  # noqa: E402
from app.indicators.bilan.build import build_bilan_with_charts  # noqa: E402
from app.indicators.bilan.html import CONTENT_SECURITY_POLICY, to_html  # noqa: E402
from app.indicators.bilan.pdf import to_pdf  # noqa: E402
from app.indicators.bilan.xlsx import to_xlsx  # noqa: E402
from seed.demo import generate_demo  # noqa: E402
from tests.indicators.browser import find_chromium, launch, open_page, serve  # noqa: E402

YEARS = [2018, 2019, 2020]
AS_OF = date(2020, 12, 31)
HTML_WIDTH, HTML_HEIGHT = 1280, 2000  # the summary charts and the first family
PHONE_WIDTH, PHONE_HEIGHT = 390, 844


def main() -> None:
    upgrade_head(os.environ["DATABASE_URL"])
    with Session(make_engine(os.environ["DATABASE_URL"])) as session:
        generate_demo(session=session)
        session.commit()
        bilan, charts = build_bilan_with_charts(session=session, years=YEARS, as_of=AS_OF)
    pdf_screenshot(to_pdf(bilan, charts, departement="Sarthe"), ROOT / "docs" / "bilan-pdf-pages.png")
    html_screenshot(to_html(bilan, charts), ROOT / "docs" / "bilan-html.png")
    html_screenshot(to_html(bilan, charts), ROOT / "docs" / "bilan-phone.png", phone=True)
    xlsx_screenshot(to_xlsx(bilan, charts), ROOT / "docs" / "bilan-xlsx-summary.png")
    shutil.rmtree(WORK, ignore_errors=True)


def html_screenshot(page: str, target: Path, *, phone: bool = False) -> None:
    executable = find_chromium()
    if executable is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CONTENT_SECURITY_POLICY}
    width, height = (PHONE_WIDTH, PHONE_HEIGHT) if phone else (HTML_WIDTH, HTML_HEIGHT)
    with (
        serve(page.encode(), headers) as url,
        launch(executable) as browser,
        open_page(browser, url, width=width, height=height, mobile=phone) as (tab, report),
    ):
        if report.errors:
            sys.exit(f"the page logged errors: {report.errors}")
        if phone:
            tab.evaluate("document.querySelector('#famille-1').scrollIntoView()")
        tab.screenshot(path=str(target))
    print(f"wrote {target.relative_to(ROOT)}")


def xlsx_screenshot(workbook: bytes, target: Path) -> None:
    """LibreOffice prints the first sheet (the summary) on the first page(s) of the PDF."""
    if not (shutil.which("libreoffice") and shutil.which("pdftoppm")):
        sys.exit("needs libreoffice and pdftoppm (apt-get install libreoffice-calc-nogui poppler-utils)")
    source = WORK / "bilan.xlsx"
    source.write_bytes(workbook)
    subprocess.run(
        ["libreoffice", f"-env:UserInstallation=file://{WORK / 'lo-profile'}", "--headless", "--convert-to", "pdf"]
        + ["--outdir", str(WORK), str(source)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(WORK / "bilan.pdf")]
        + [str(target.with_suffix(""))],
        check=True,
        timeout=60,
    )
    print(f"wrote {target.relative_to(ROOT)}")


PDF_PAGES, PDF_DPI = 3, 45  # the title page, the charts, the first family: ~1,100 px wide in all


def pdf_screenshot(document: bytes, target: Path) -> None:
    """The PDF's first pages drawn by pdftoppm, pasted side by side on one image."""
    from PIL import Image

    if not shutil.which("pdftoppm"):
        sys.exit("needs pdftoppm (apt-get install poppler-utils)")
    source = WORK / "bilan-pages.pdf"
    source.write_bytes(document)
    prefix = WORK / "pdf-page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(PDF_DPI), "-f", "1", "-l", str(PDF_PAGES), str(source), str(prefix)],
        check=True,
        timeout=60,
    )
    pages = [Image.open(path).convert("RGB") for path in sorted(WORK.glob("pdf-page-*.png"))]
    gap = 12
    width = sum(page.width for page in pages) + gap * (len(pages) + 1)
    height = max(page.height for page in pages) + 2 * gap
    sheet = Image.new("RGB", (width, height), (200, 205, 212))
    x = gap
    for page in pages:
        sheet.paste(page, (x, gap))
        x += page.width + gap
    sheet.save(target, optimize=True)
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
