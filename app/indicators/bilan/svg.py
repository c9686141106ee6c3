"""Horizontal bar charts as plain SVG, for the HTML bilan.

Why hand-written: the page must be self-contained (no script, no font, no request elsewhere),
and the three charts it needs are bars, grouped or stacked. The server-side chart libraries
that write SVG either embed scripts or external stylesheets for interactivity (pygal) or pull
in a plotting stack far larger than the page (matplotlib). One layout function of a hundred
lines, readable and tested in a real browser, is the smaller thing to maintain.

Layout, top to bottom: the legend, one band per category (its label on a line of its own,
wrapped onto a second line and shortened past it, then one bar per series, or one bar split into
the series when stacked), the value axis. Labels sit above their bars rather than beside them,
so the bars get the whole width and the drawing stays narrow: its viewBox is 420 units wide and
the page scales it to its column (`width: 100%`), so a 390 px phone shows it whole at about the
page's text size, with no sideways scroll. Every bar and every band carries a <title> (a
tooltip, what a screen reader announces, and the full text of a shortened label); the figures
are also printed at the end of each bar. The legend lists the series in their order (the years
ascending, as the tables).
"""

import math
from html import escape as html_escape

from app.core.text import printable
from app.indicators.bilan.charts import PART_COLOURS, SERIES_COLOURS, Chart
from app.indicators.bilan.formats import NOT_KNOWN, french
from app.indicators.known import total
from app.reference.indicators import Unit

WIDTH = 420
MARGIN = 6
VALUE_ROOM = 76  # right of the longest bar: its printed value
PLOT_LEFT, PLOT_RIGHT = MARGIN, WIDTH - VALUE_ROOM
BAR_HEIGHT, STACK_HEIGHT, BAND_GAP = 12, 22, 12
LABEL_LINE, LABEL_LINES = 15, 2  # a category's label: lines of 15 units, two at most
LEGEND_ROW, AXIS_HEIGHT = 22, 26
CHAR_WIDTH = 6.6  # average width of a 12 px sans-serif character, to fit labels without measuring
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
INK, MUTED, GRID = "#1d2733", "#5b6673", "#d5dbe1"

# The text printed on each part of a stacked bar: white on the dark one, ink on the light ones.
PART_TEXT_COLOURS = ("#ffffff", INK, INK)


def escape(text: str) -> str:
    """HTML-escaped, and without control characters (HTML forbids them, SVG's XML cannot hold them)."""
    return html_escape(printable(text))


def bar_chart(chart: Chart, *, chart_id: str, series_labels: list[str]) -> str:
    """`chart` as an <svg> element; `chart_id` makes its ids unique in the page."""
    legend, legend_height = _legend(chart, series_labels)
    band = STACK_HEIGHT if chart.stacked else BAR_HEIGHT * max(1, len(chart.series))
    top = legend_height + 8
    labels = [_label_lines(str(category)) for category in chart.categories]
    bands_height = sum(len(lines) * LABEL_LINE + band + BAND_GAP for lines in labels)
    if not chart.categories:  # an empty chart keeps one band, to say so
        bands_height = band + BAND_GAP
    height = top + bands_height + AXIS_HEIGHT
    ticks = _ticks(_largest(chart), whole=chart.unit == Unit.count)
    scale = (PLOT_RIGHT - PLOT_LEFT) / ticks[-1]

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="{FONT}" font-size="12" fill="{INK}">',
        f'<title id="{chart_id}-title">{escape(chart.title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_description(chart, series_labels))}</desc>',
        legend,
    ]
    axis_top, axis_bottom = top - 4, height - AXIS_HEIGHT + 2
    for position, tick in enumerate(ticks):
        x = PLOT_LEFT + tick * scale
        anchor = "start" if position == 0 else "middle"  # 0 at the drawing's left edge stays inside it
        parts.append(f'<line x1="{x:.1f}" y1="{axis_top}" x2="{x:.1f}" y2="{axis_bottom}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{axis_bottom + 16}" text-anchor="{anchor}" fill="{MUTED}">'
            f"{escape(french(tick, chart.unit))}</text>"
        )
    y = top
    for index, category in enumerate(chart.categories):
        parts.append(_band(chart, index, str(category), labels[index], series_labels, y=y, band=band, scale=scale))
        y += len(labels[index]) * LABEL_LINE + band + BAND_GAP
    if not chart.categories:
        parts.append(f'<text x="{PLOT_LEFT + 8}" y="{top + band / 2 + 4:.1f}" fill="{MUTED}">Aucune donnée</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _band(
    chart: Chart,
    index: int,
    category: str,
    label: list[str],
    series_labels: list[str],
    *,
    y: int,
    band: int,
    scale: float,
) -> str:
    parts = ["<g>", f"<title>{escape(category)}</title>"]
    for number, line in enumerate(label):
        parts.append(f'<text x="{PLOT_LEFT}" y="{y + (number + 1) * LABEL_LINE - 4}">{escape(line)}</text>')
    y += len(label) * LABEL_LINE
    if chart.stacked:
        x = PLOT_LEFT
        for position, (series, name) in enumerate(zip(chart.series, series_labels)):
            colour = PART_COLOURS[position % len(PART_COLOURS)]
            text_colour = PART_TEXT_COLOURS[position % len(PART_TEXT_COLOURS)]
            value = series.values[index] or 0
            width = value * scale
            parts.append(_bar(x, y, width, band, colour, f"{category} – {name} : {french(value, chart.unit)}"))
            text = french(value, chart.unit)
            if value and width > len(text) * CHAR_WIDTH + 6:
                parts.append(
                    f'<text x="{x + width / 2:.1f}" y="{y + band / 2 + 4:.1f}" text-anchor="middle" '
                    f'fill="{text_colour}">{escape(text)}</text>'
                )
            x += width
        whole = total(series.values[index] for series in chart.series)  # NC when a part is
        parts.append(_value_label(x, y + band / 2, french(whole, chart.unit)))
    else:
        for position, (series, name) in enumerate(zip(chart.series, series_labels)):
            value = series.values[index]
            bar_y = y + position * BAR_HEIGHT
            colour = SERIES_COLOURS[position % len(SERIES_COLOURS)]
            shown = french(value, chart.unit)
            if value is None:
                parts.append(_value_label(PLOT_LEFT, bar_y + BAR_HEIGHT / 2, NOT_KNOWN, fill=MUTED))
                continue
            width = max(0.0, value) * scale
            parts.append(_bar(PLOT_LEFT, bar_y + 1, width, BAR_HEIGHT - 2, colour, f"{category} – {name} : {shown}"))
            parts.append(_value_label(PLOT_LEFT + width, bar_y + BAR_HEIGHT / 2, shown))
    parts.append("</g>")
    return "\n".join(parts)


def _bar(x: float, y: float, width: float, height: float, colour: str, tooltip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height}" fill="{colour}">'
        f"<title>{escape(tooltip)}</title></rect>"
    )


def _value_label(x: float, middle: float, text: str, fill: str = INK) -> str:
    return f'<text x="{x + 4:.1f}" y="{middle + 3.5:.1f}" font-size="11" fill="{fill}">{escape(text)}</text>'


def _legend(chart: Chart, series_labels: list[str]) -> tuple[str, int]:
    """Swatches and names from the plot's left edge, wrapping onto as many rows as needed."""
    parts, x, row = ['<g class="legend">'], PLOT_LEFT, 0
    for position, name in enumerate(series_labels):
        width = 18 + len(name) * CHAR_WIDTH + 16
        if x + width > WIDTH and x > PLOT_LEFT:
            x, row = PLOT_LEFT, row + 1
        palette = PART_COLOURS if chart.stacked else SERIES_COLOURS
        colour = palette[position % len(palette)]
        y = row * LEGEND_ROW
        parts.append(f'<rect x="{x}" y="{y + 3}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="{y + 13}">{escape(name)}</text>')
        x += width
    parts.append("</g>")
    return "\n".join(parts), (row + 1) * LEGEND_ROW


def _description(chart: Chart, series_labels: list[str]) -> str:
    how = "empilées" if chart.stacked else "côte à côte"
    return (
        f"Barres horizontales {how}, une bande par {chart.category_title.lower()} ; "
        f"séries : {', '.join(series_labels)}."
    )


def _largest(chart: Chart) -> float:
    if chart.stacked:
        totals = [sum(series.values[i] or 0 for series in chart.series) for i in range(len(chart.categories))]
        return max(totals, default=0)
    return max((value for series in chart.series for value in series.values if value is not None), default=0)


def _ticks(largest: float, *, whole: bool, count: int = 4) -> list[float]:
    """0 and round steps (1, 2 or 5 × a power of ten) up to at least `largest`."""
    top = largest if largest > 0 else 1
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(multiple * magnitude for multiple in (1, 2, 5, 10) if multiple * magnitude >= raw)
    if whole:
        step = max(1, round(step))
    return [step * index for index in range(math.ceil(top / step - 1e-9) + 1)]


def _label_lines(text: str) -> list[str]:
    """`text` wrapped at spaces onto LABEL_LINES lines of the drawing's width at most; what does
    not fit ends the last line with `…` (the band's <title> keeps it whole)."""
    fits = int((WIDTH - 2 * MARGIN) / CHAR_WIDTH)
    lines: list[str] = []
    rest = " ".join(text.split())
    while rest and len(lines) < LABEL_LINES:
        if len(rest) <= fits:
            lines.append(rest)
            rest = ""
            break
        cut = rest.rfind(" ", 0, fits + 1)
        cut = cut if cut > 0 else fits
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        lines[-1] = lines[-1][: fits - 1].rstrip() + "…"
    return lines or [""]
