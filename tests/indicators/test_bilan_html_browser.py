"""The HTML bilan in a real headless browser (Playwright driving Debian's `/usr/bin/chromium`):
it renders without a console error or a request to anything but itself, its charts are drawn
and visible, it fits a phone's width and a desktop's with no sideways scroll, each action shows
its bilan qualitatif, and it prints with a page per family and table headers on every page.

Skipped when no browser is installed, except under CI=true (`.ci/run` installs chromium).
"""

import re

import pytest

from app.periods.models import Period, PeriodStatus
from seed.data import read_seed_data
from tests.indicators.browser import browser_for_tests, open_page, serve

pytestmark = pytest.mark.slow

URL = "/api/v1/bilan"
PHONE, DESKTOP = 390, 1280


@pytest.fixture(scope="module")
def browser():
    with browser_for_tests() as chromium:
        yield chromium


@pytest.fixture
def page(client, reader, session, programme):
    """The whole bilan 2019–2020 (the seed catalogue and the test programme) as the API serves it."""
    session.merge(Period(year=2019, status=PeriodStatus.consolidated))
    session.commit()
    response = client.get(URL, params={"years": "2019,2020", "as_of": "2020-06-30", "format": "html"}, headers=reader)
    assert response.status_code == 200, response.text
    headers = {name: response.headers[name] for name in ("content-type", "content-security-policy")}
    with serve(response.content, headers) as url:
        yield url, response.text


def test_the_page_renders_without_errors_and_requests_nothing_else(browser, page):
    url, html = page
    with open_page(browser, url, width=DESKTOP, height=900) as (tab, report):
        assert report.errors == []
        assert report.requests == [url]
        assert tab.title() == "Sarthe — Bilan des actions du Programme Départemental d'Insertion 2019/2020"
        families = tab.evaluate("document.querySelectorAll('section.family').length")
        assert families == html.count('<section class="family"') >= 2
        tables = tab.evaluate("[...document.querySelectorAll('table')].map(t => t.tHead !== null)")
        assert tables and all(tables)


def test_the_three_charts_are_drawn_and_visible(browser, page, programme):
    url, _html = page
    with open_page(browser, url, width=DESKTOP, height=900) as (tab, _report):
        charts = tab.evaluate(
            """[...document.querySelectorAll('figure svg')].map(svg => {
                const box = svg.getBoundingClientRect();
                const style = getComputedStyle(svg);
                const bars = [...svg.querySelectorAll('rect')].map(r => r.getBoundingClientRect())
                    .filter(r => r.width > 0 && r.height > 0);
                return {title: svg.querySelector('title').textContent, width: box.width, height: box.height,
                        shown: style.display !== 'none' && style.visibility === 'visible' && style.opacity !== '0',
                        bars: bars.length, labels: svg.querySelectorAll('text').length,
                        legend: [...svg.querySelectorAll('.legend text')].map(text => text.textContent)};
            })"""
        )
        drawn = tab.evaluate(
            """[...document.querySelectorAll('figure svg')].map(svg => [...svg.querySelectorAll('rect')]
                .filter(rect => rect.getBoundingClientRect().width > 0 && rect.querySelector('title'))
                .map(rect => rect.querySelector('title').textContent))"""
        )
    assert [chart["title"] for chart in charts] == [
        "Taux de réalisation par action",
        "Budget par famille d'actions",
        "Sorties par année",
    ]
    for chart in charts:
        assert chart["shown"], chart
        assert chart["width"] > 400 and chart["height"] > 80, chart
        assert chart["labels"] > 3 and chart["bars"] > 3, chart
    # The legends follow the years' order, as the tables' columns do.
    assert charts[0]["legend"] == charts[1]["legend"] == ["2019", "Juin 2020 (non consolidé)"]
    assert charts[2]["legend"] == ["Emploi durable", "Autres sorties dynamiques", "Autres sorties"]
    occupancy, budget, exits = drawn
    assert f"{programme.a1.number}. Départ test – 2019 : 75%" in occupancy
    assert f"{programme.a1.number}. Départ test – Juin 2020 (non consolidé) : 33%" in occupancy
    assert "Bilan test – 2019 : 2 200 €" in budget  # A1's 1 200 € and A2's 1 000 €
    assert "2019 – Emploi durable : 1" in exits  # b1 left for a CDI


# Every chart, and every text drawn in it, within the page's width; the page no wider than the screen.
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const charts = [...document.querySelectorAll('figure svg')].map(svg => {
        const box = svg.getBoundingClientRect();
        const plot = svg.closest('.plot');
        const texts = [...svg.querySelectorAll('text')].map(text => text.getBoundingClientRect())
            .filter(text => text.left < box.left - 0.5 || text.right > box.right + 0.5);
        return {left: box.left, right: box.right, scrolls: plot.scrollWidth > plot.clientWidth,
                textsOutside: texts.length};
    });
    return {width, page: document.documentElement.scrollWidth, charts};
}"""


@pytest.mark.parametrize(("width", "mobile"), [(PHONE, True), (DESKTOP, False)], ids=["phone-390", "desktop-1280"])
def test_no_chart_nor_the_page_overflows_the_screen(browser, page, width, mobile):
    url, _html = page
    with open_page(browser, url, width=width, height=800, mobile=mobile) as (tab, report):
        assert report.errors == []
        fit = tab.evaluate(OVERFLOW)
        boxes = tab.evaluate(
            "[...document.querySelectorAll('.table-scroll, .plot')].map(box => getComputedStyle(box).overflowX)"
        )
    assert fit["width"] == width
    assert fit["page"] <= width, fit
    assert len(fit["charts"]) == 3
    for chart in fit["charts"]:
        assert chart["left"] >= 0 and chart["right"] <= width, chart
        assert not chart["scrolls"], chart  # the drawing scales down: no sideways scroll inside its box
        assert chart["textsOutside"] == 0, chart
    if mobile:
        assert fit["charts"][0]["right"] - fit["charts"][0]["left"] > width * 0.85  # the charts take the width
    assert boxes and set(boxes) == {"auto"}  # wide tables still scroll in their own box


def test_each_action_shows_its_bilan_qualitatif_under_its_table(browser, page):
    url, _html = page
    seeded = {item["action"]: item["points"] for item in read_seed_data()["assessments"]}
    with open_page(browser, url, width=PHONE, height=800, mobile=True) as (tab, _report):
        shown = tab.evaluate(
            """[...document.querySelectorAll('article.action')].filter(a => a.querySelector('.assessment')).map(a => {
                const section = a.querySelector('.assessment');
                const table = a.querySelector('.table-scroll');
                return {heading: section.querySelector('h4').textContent,
                        points: [...section.querySelectorAll('li')].map(li => li.textContent),
                        below: !table || (table.compareDocumentPosition(section) & Node.DOCUMENT_POSITION_FOLLOWING),
                        visible: section.getBoundingClientRect().height > 0};
            })"""
        )
    assert len(shown) == len(seeded) == 11
    assert sorted(tuple(item["points"]) for item in shown) == sorted(tuple(points) for points in seeded.values())
    assert all(item["heading"] == "Bilan qualitatif 2020" and item["below"] and item["visible"] for item in shown), (
        shown
    )


def test_it_prints_a_page_per_family_with_table_headers_repeated(browser, page):
    url, html = page
    with open_page(browser, url, width=DESKTOP, height=900) as (tab, _report):
        tab.emulate_media(media="print")
        assert tab.evaluate("getComputedStyle(document.querySelector('section.family')).breakBefore") == "page"
        assert tab.evaluate("getComputedStyle(document.querySelector('thead')).display") == "table-header-group"
        assert tab.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
        assert tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        tab.emulate_media(media="screen")
        pdf = tab.pdf(print_background=True)
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert pages >= 1 + html.count('<section class="family"')  # the summary, then each family


# Every figure cell of the actions' tables (and of the charts' tables, opened): where it lies on
# the screen, and the heading its phone layout writes beside it.
CELLS = """() => {
    document.querySelectorAll('details').forEach(details => { details.open = true; });
    const viewport = window.innerWidth;
    return {viewport, page: document.scrollingElement.scrollWidth,
            cells: [...document.querySelectorAll('td')].map(td => {
                const box = td.getBoundingClientRect();
                const text = [...td.childNodes].filter(node => node.nodeType === Node.TEXT_NODE)
                    .map(node => node.textContent).join('');
                const range = document.createRange();
                range.selectNodeContents(td);
                const ink = range.getBoundingClientRect();
                return {text, label: getComputedStyle(td, '::before').content, left: box.left, right: box.right,
                        width: box.width, inkLeft: ink.left, inkRight: ink.right,
                        column: td.closest('table').tHead.rows[0].cells[td.cellIndex].textContent};
            })};
}"""


def test_on_a_phone_every_year_reads_without_scrolling_sideways(browser, page):
    """SPEC C13: at 390 px the page does not scroll sideways, and every value cell (each year's
    figure of every table) lies within the screen, headed by its year."""
    url, _html = page
    with open_page(browser, url, width=PHONE, height=800, mobile=True) as (tab, report):
        assert report.errors == []
        fit = tab.evaluate(CELLS)
    assert fit["viewport"] == PHONE
    assert fit["page"] <= PHONE, fit["page"]
    assert len(fit["cells"]) > 50
    outside = [cell for cell in fit["cells"] if cell["width"] <= 0 or cell["left"] < 0 or cell["right"] > PHONE]
    assert outside == []
    cut = [cell for cell in fit["cells"] if cell["inkLeft"] < 0 or cell["inkRight"] > PHONE]
    assert cut == []
    # Each figure says which year (or series) it is: its column's heading, written before it.
    assert all(cell["label"] == f'"{cell["column"]}"' for cell in fit["cells"]), fit["cells"][:3]
    years = {cell["column"] for cell in fit["cells"]}
    assert {"2019", "Juin 2020 (non consolidé)"} <= years


def test_on_a_desktop_the_tables_keep_their_columns(browser, page):
    url, _html = page
    with open_page(browser, url, width=DESKTOP, height=900) as (tab, _report):
        fit = tab.evaluate(CELLS)
        header = tab.evaluate("getComputedStyle(document.querySelector('article.action thead')).position")
    assert fit["page"] <= DESKTOP
    assert header == "static"  # the years head their columns
    assert all(cell["label"] in ("none", "normal") for cell in fit["cells"])
