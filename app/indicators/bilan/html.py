"""The bilan as one self-contained HTML page: inline CSS, inline SVG charts, no script, nothing
fetched from anywhere. Readable on a phone (charts scale to the screen's width; below 40rem each
table row is a card with one line per year) and printable (each family on a new page, table
headers repeated on every page). The PDF (pdf.py) is this page with a title page and page
numbers.

Every stored text goes through `html.escape`. The page carries its own Content-Security-Policy,
so that even saved to disk and opened later it can load nothing: its one stylesheet is allowed
by its hash.
"""

import base64
import hashlib
from html import escape as html_escape

from app.core.text import printable
from app.indicators import secrecy
from app.indicators.bilan.charts import BilanCharts, Chart
from app.indicators.bilan.formats import (
    PROGRAMME_TITLE,
    assessment_heading,
    bilan_title,
    consolidation_note,
    french,
    is_secret,
    unit_of,
    year_heading,
)
from app.indicators.bilan.svg import bar_chart
from app.indicators.schemas import BilanActionRead, BilanRead

STYLE = """
@page { size: A4; margin: 14mm; }
:root { --ink: #1d2733; --muted: #5b6673; --line: #d5dbe1; --accent: #1b4f72; --head: #eef2f7; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem 1.25rem 3rem; color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.7rem; line-height: 1.25; margin: 0.5rem 0; }
h2 { font-size: 1.35rem; margin: 2.5rem 0 1rem; padding-bottom: 0.3rem; border-bottom: 3px solid var(--accent); }
h3 { font-size: 1.1rem; margin: 1.75rem 0 0.5rem; }
h4 { font-size: 1rem; margin: 1rem 0 0.25rem; }
.assessment ul { margin: 0; padding-left: 1.25rem; }
.assessment li { margin: 0.2rem 0; overflow-wrap: anywhere; }
.note, .operators { color: var(--muted); }
nav ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; padding: 0; list-style: none; }
nav a { color: var(--accent); }
.charts { display: grid; grid-template-columns: minmax(0, 1fr); gap: 2rem; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 0.5rem; }
.plot, .table-scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
.plot svg { display: block; width: 100%; max-width: 42rem; height: auto; }
details { margin-top: 0.5rem; }
summary { cursor: pointer; color: var(--accent); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
thead th { background: var(--head); vertical-align: bottom; }
th:first-child { text-align: left; white-space: normal; min-width: 14rem; }
tbody th { font-weight: normal; }
.nc, .secret { color: var(--muted); }
footer { margin-top: 3rem; color: var(--muted); font-size: 0.875rem; }
@media (max-width: 40rem) {
  body { padding: 0.75rem 0.75rem 2rem; font-size: 15px; }
  h1 { font-size: 1.35rem; }
  th:first-child { min-width: 10rem; }
}
@media screen and (max-width: 40rem) {
  /* On a phone each row of a table is a card: its label, then one line per year (the year's
     heading beside its figure), so that every year reads without scrolling sideways. */
  .table-scroll table, .table-scroll tbody, .table-scroll tr, .table-scroll th, .table-scroll td { display: block; }
  .table-scroll thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  .table-scroll tr { border: 1px solid var(--line); border-radius: 4px; margin: 0 0 0.6rem; }
  .table-scroll tbody th { min-width: 0; background: var(--head); font-weight: 600; border-bottom: 0; }
  .table-scroll td { display: flex; justify-content: space-between; gap: 1rem; white-space: normal; }
  .table-scroll td::before { content: attr(data-label); color: var(--muted); text-align: left; }
  .table-scroll tr td:last-child { border-bottom: 0; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav, details, footer { display: none; }
  .family { break-before: page; }
  thead { display: table-header-group; }
  tr, figure, .assessment { break-inside: avoid; }
  h2, h3, h4, figcaption { break-after: avoid; }
  .plot, .table-scroll { overflow: visible; }
}
"""

# The PDF's own pages (WeasyPrint): a title page, then numbered pages under a running title.
PDF_STYLE = """
@page { size: A4; margin: 18mm 14mm 16mm;
  @top-left { content: string(document-title); font: 8pt "DejaVu Sans", sans-serif; color: #5b6673; }
  @bottom-right { content: "Page " counter(page) " / " counter(pages); font: 8pt "DejaVu Sans", sans-serif;
    color: #5b6673; } }
@page :first { @top-left { content: none; } @bottom-right { content: none; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; }
h1.document-title { string-set: document-title content(); }
.title-page { break-after: page; height: 240mm; display: flex; flex-direction: column; justify-content: center; }
.title-page .departement { font-size: 22pt; font-weight: 700; color: #1b4f72; margin: 0 0 8mm; }
.title-page h1 { font-size: 24pt; margin: 0 0 6mm; }
.title-page .years { font-size: 18pt; margin: 0 0 10mm; }
header { display: none; }
#synthese { break-after: page; }
#synthese h2 { margin-top: 0; }
.charts { display: block; }
figure { margin: 0 0 8mm; }
.plot svg { width: 100%; max-width: 120mm; }
th:first-child { min-width: 0; }
th, td { padding: 0.25rem 0.45rem; }
.action { margin-bottom: 6mm; }
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# In the page (a <meta>) and on the response (a header, which may also say frame-ancestors).
PAGE_POLICY = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'"
CONTENT_SECURITY_POLICY = f"{PAGE_POLICY}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def escape(text: str) -> str:
    """HTML-escaped, and without control characters (HTML forbids them, SVG's XML cannot hold them)."""
    return html_escape(printable(text))


def to_html(bilan: BilanRead, charts: BilanCharts, *, pdf_for: str | None = None) -> str:
    """The page; with `pdf_for` (the département's name), the same content for the PDF: a title
    page naming the département and the years, and the PDF's page style (no policy: WeasyPrint
    fetches nothing it is not given)."""
    years = "/".join(map(str, bilan.years))
    head = [f'<meta http-equiv="Content-Security-Policy" content="{PAGE_POLICY}">'] if pdf_for is None else []
    parts = [
        "<!doctype html>",
        '<html lang="fr">',
        "<head>",
        '<meta charset="utf-8">',
        *head,
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(bilan_title())} {years}</title>",
        f"<style>{STYLE}</style>",
        *([f"<style>{PDF_STYLE}</style>"] if pdf_for is not None else []),
        "</head>",
        "<body>",
        *([_title_page(bilan, pdf_for)] if pdf_for is not None else []),
        "<header>",
        f"<h1>{escape(bilan_title())} {years}</h1>",
        f'<p class="note">{escape(consolidation_note(bilan))}</p>',
        _navigation(bilan),
        "</header>",
        "<main>",
        _summary(bilan, charts),
    ]
    for index, family in enumerate(bilan.families, start=1):
        parts += [
            f'<section class="family" id="famille-{index}">',
            f"<h2>{escape(family.name)}</h2>",
            *(_action(bilan, action) for action in family.actions),
            "</section>",
        ]
    parts += [
        "</main>",
        f"<footer><p>Indicateurs calculés au {bilan.as_of:%d/%m/%Y} à partir des parcours enregistrés "
        "(Catalogue PDI).</p></footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _title_page(bilan: BilanRead, departement: str) -> str:
    first, last = bilan.years[0], bilan.years[-1]
    years = str(first) if first == last else f"{first} – {last}"
    return "\n".join(
        [
            '<section class="title-page">',
            f'<p class="departement">Département : {escape(departement)}</p>',
            f'<h1 class="document-title">{escape(PROGRAMME_TITLE)}</h1>',
            f'<p class="years">{years}</p>',
            f'<p class="note">{escape(consolidation_note(bilan))}</p>',
            "</section>",
        ]
    )


def _navigation(bilan: BilanRead) -> str:
    links = ['<li><a href="#synthese">Synthèse</a></li>']
    links += [
        f'<li><a href="#famille-{index}">{escape(family.name)}</a></li>'
        for index, family in enumerate(bilan.families, start=1)
    ]
    return f'<nav aria-label="Sommaire"><ul>{"".join(links)}</ul></nav>'


def _summary(bilan: BilanRead, charts: BilanCharts) -> str:
    figures = []
    for index, chart in enumerate(charts.all(), start=1):
        labels = _series_labels(bilan, chart)
        figures.append(
            "\n".join(
                [
                    "<figure>",
                    f"<figcaption>{escape(chart.title)}</figcaption>",
                    f'<div class="plot">{bar_chart(chart, chart_id=f"chart-{index}", series_labels=labels)}</div>',
                    f"<details><summary>Les chiffres</summary>{_chart_table(chart, labels)}</details>",
                    "</figure>",
                ]
            )
        )
    return "\n".join(
        ['<section id="synthese">', "<h2>Synthèse</h2>", '<div class="charts">', *figures, "</div>", "</section>"]
    )


def _series_labels(bilan: BilanRead, chart: Chart) -> list[str]:
    """A year says whether it is consolidated; other series are named as they are."""
    return [
        year_heading(bilan, series.name) if isinstance(series.name, int) else series.name for series in chart.series
    ]


def _chart_table(chart: Chart, labels: list[str]) -> str:
    head = "".join(f'<th scope="col">{escape(label)}</th>' for label in [chart.category_title, *labels])
    rows = []
    for index, category in enumerate(chart.categories):
        cells = "".join(
            _value_cell(series.values[index], chart.unit, label) for series, label in zip(chart.series, labels)
        )
        rows.append(f'<tr><th scope="row">{escape(str(category))}</th>{cells}</tr>')
    return (
        f'<div class="table-scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _value_cell(value, unit, label: str, secret: bool = False) -> str:
    """A figure's cell; `label` (its column's heading) heads it where the table reflows on a phone;
    a withheld one (statistical secrecy) shows "s", explained under the title."""
    shown = escape(secrecy.MARK if secret else french(value, unit))
    nc = ' class="secret"' if secret else ' class="nc"' if value is None else ""
    return f'<td data-label="{escape(label)}"{nc}>{shown}</td>'


def _action(bilan: BilanRead, action: BilanActionRead) -> str:
    parts = ['<article class="action">', f"<h3>{action.number}. {escape(action.name)}</h3>"]
    if action.description:
        parts += [f"<p>{escape(paragraph)}</p>" for paragraph in action.description.splitlines() if paragraph.strip()]
    if action.operators:
        concerned = "Opérateur concerné" if len(action.operators) == 1 else "Opérateurs concernés"
        parts.append(f'<p class="operators">{concerned} : {escape(", ".join(action.operators))}</p>')
    if action.table:
        head = "".join(f'<th scope="col">{escape(year_heading(bilan, year))}</th>' for year in bilan.years)
        rows = []
        for row in action.table:
            unit = unit_of(row.indicator)
            cells = "".join(
                _value_cell(row.values.get(str(year)), unit, year_heading(bilan, year), is_secret(row, year))
                for year in bilan.years
            )
            rows.append(f'<tr><th scope="row">{escape(row.label)}</th>{cells}</tr>')
        parts.append(
            '<div class="table-scroll"><table>'
            f'<thead><tr><th scope="col">Indicateurs</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
    if action.assessment is not None:
        items = "".join(f"<li>{escape(point)}</li>" for point in action.assessment.points)
        parts.append(
            f'<section class="assessment"><h4>{escape(assessment_heading(action.assessment.year))}</h4>'
            f"<ul>{items}</ul></section>"
        )
    parts.append("</article>")
    return "\n".join(parts)
