"""The HTML bilan's SVG charts: they scale to their column, long labels wrap then shorten with
their full text kept, legends follow the series' order."""

import re
from html import unescape

from app.indicators.bilan.charts import Chart, Series
from app.indicators.bilan.svg import WIDTH, bar_chart
from app.reference.indicators import Unit

LONG = "9. Association intermédiaire et entreprise de travail temporaire d'insertion"
LONGER = LONG + " — avec un nom si long qu'il ne tiendrait même pas sur deux lignes du dessin, quoi qu'on fasse"


def chart(categories) -> str:
    figure = Chart(
        title="Taux de réalisation par action",
        category_title="Action",
        categories=categories,
        series=[
            Series(2018, [0.5] * len(categories)),
            Series(2019, [0.9] * len(categories)),
            Series(2020, [1.3] * len(categories)),
        ],
        unit=Unit.rate,
    )
    return bar_chart(figure, chart_id="chart-1", series_labels=["2018", "2019", "Déc 2020 (non consolidé)"])


def test_the_drawing_scales_to_its_column():
    svg = chart(["2. Court"])
    opening = svg.split(">", 1)[0]
    assert re.search(rf'viewBox="0 0 {WIDTH} \d+"', opening)
    assert 'width="100%"' in opening and "height=" not in opening.replace("viewBox", "")


def test_legend_follows_the_series_order():
    legend = re.search(r'<g class="legend">(.*?)</g>', chart(["2. Court"]), flags=re.S).group(1)
    assert [unescape(text) for text in re.findall(r"<text[^>]*>(.*?)</text>", legend)] == [
        "2018",
        "2019",
        "Déc 2020 (non consolidé)",
    ]


def band_labels(svg: str) -> list[tuple[str, list[str]]]:
    """Each band's <title> (the full label) and the lines of text drawn as its label."""
    bands = re.findall(r"<g>\n<title>(.*?)</title>\n((?:<text [^>]*>.*?</text>\n)+)", svg)
    return [
        (unescape(title), [unescape(line) for line in re.findall(r">(.*?)</text>", lines)]) for title, lines in bands
    ]


def test_long_labels_wrap_then_shorten_and_keep_their_full_text():
    (short, short_lines), (long, long_lines), (longer, longer_lines) = band_labels(chart(["2. Court", LONG, LONGER]))
    assert (short, short_lines) == ("2. Court", ["2. Court"])
    assert long == LONG and len(long_lines) == 2 and " ".join(long_lines) == LONG  # wrapped at a space, whole
    assert longer == LONGER and len(longer_lines) == 2 and longer_lines[1].endswith("…")  # shortened, kept in <title>
    assert LONGER.startswith(" ".join(longer_lines)[:-1].rstrip())
    for line in long_lines + longer_lines:
        assert len(line) * 6.6 <= WIDTH - 12  # drawn inside the viewBox
