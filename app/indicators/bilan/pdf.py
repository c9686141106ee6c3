"""The bilan as an A4 PDF: the HTML page (html.py) with its title page and page style, laid
out by WeasyPrint. The page holds everything it shows (inline CSS and SVG), so nothing is
fetched: the URL fetcher refuses every URL."""

import logging

from app.indicators.bilan.charts import BilanCharts
from app.indicators.bilan.html import to_html
from app.indicators.schemas import BilanRead

PDF_MEDIA_TYPE = "application/pdf"

# WeasyPrint tells each step of each layout at INFO: not the service's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def _fetch_nothing(url: str, *args, **kwargs):
    raise ValueError(f"the bilan's PDF fetches nothing ({url})")


def to_pdf(bilan: BilanRead, charts: BilanCharts, *, departement: str) -> bytes:
    # Imported on the first PDF: WeasyPrint (and pango behind it) weighs on every worker's start.
    from weasyprint import HTML

    page = to_html(bilan, charts, pdf_for=departement)
    return HTML(string=page, url_fetcher=_fetch_nothing).write_pdf()
