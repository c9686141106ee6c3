"""The HTML bilan in a real headless browser (Debian's `chromium`): it renders without a console
error or a request to anything but itself, its charts are drawn and visible, it fits a phone's
width, and it prints with a page per family and table headers on every page.

Skipped when no browser is installed, except under CI=true (`.ci/run` installs chromium).
"""

import os
import re
from base64 import b64decode

import pytest

from app.periods.models import Period, PeriodStatus
from tests.indicators.headless_chromium import Chromium, find_chromium, serve

URL = "/api/v1/bilan"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = find_chromium()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, and CI=true: the browser tests may not be skipped")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs these tests")
    with Chromium(executable, tmp_path_factory.mktemp("chromium-profile")) as chromium:
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
    report = browser.open(url, width=1280, height=900)
    assert report.errors == []
    assert report.requests == [url]
    assert browser.evaluate("document.title") == "Bilan des actions du Programme Départemental d'Insertion 2019/2020"
    families = browser.evaluate("document.querySelectorAll('section.family').length")
    assert families == html.count('<section class="family"') >= 2
    tables = browser.evaluate("[...document.querySelectorAll('table')].map(t => t.tHead !== null)")
    assert tables and all(tables)


def test_the_three_charts_are_drawn_and_visible(browser, page, programme):
    url, _html = page
    browser.open(url, width=1280, height=900)
    charts = browser.evaluate(
        """[...document.querySelectorAll('figure svg')].map(svg => {
            const box = svg.getBoundingClientRect();
            const style = getComputedStyle(svg);
            const bars = [...svg.querySelectorAll('rect')].map(r => r.getBoundingClientRect())
                .filter(r => r.width > 0 && r.height > 0);
            return {title: svg.querySelector('title').textContent, width: box.width, height: box.height,
                    shown: style.display !== 'none' && style.visibility === 'visible' && style.opacity !== '0',
                    bars: bars.length, labels: svg.querySelectorAll('text').length};
        })"""
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
    drawn = browser.evaluate(
        """[...document.querySelectorAll('figure svg')].map(svg => [...svg.querySelectorAll('rect')]
            .filter(rect => rect.getBoundingClientRect().width > 0 && rect.querySelector('title'))
            .map(rect => rect.querySelector('title').textContent))"""
    )
    occupancy, budget, exits = drawn
    assert f"{programme.a1.number}. Départ test – 2019 : 75%" in occupancy
    assert f"{programme.a1.number}. Départ test – Juin 2020 (non consolidé) : 33%" in occupancy
    assert "Bilan test – 2019 : 2 200 €" in budget  # A1's 1 200 € and A2's 1 000 €
    assert "2019 – Emploi durable : 1" in exits  # b1 left for a CDI


def test_on_a_phone_only_the_tables_and_charts_scroll_sideways(browser, page):
    url, _html = page
    report = browser.open(url, width=375, height=740, mobile=True)
    assert report.errors == []
    assert browser.evaluate("document.documentElement.scrollWidth") <= 375
    boxes = browser.evaluate(
        "[...document.querySelectorAll('.table-scroll, .plot')].map(box => getComputedStyle(box).overflowX)"
    )
    assert boxes and set(boxes) == {"auto"}
    widest = browser.evaluate("Math.max(...[...document.querySelectorAll('.plot')].map(box => box.scrollWidth))")
    assert widest > 375  # the charts keep a readable size and scroll inside their box


def test_it_prints_a_page_per_family_with_table_headers_repeated(browser, page):
    url, html = page
    browser.open(url, width=1280, height=900)
    browser.emulate_media("print")
    try:
        assert browser.evaluate("getComputedStyle(document.querySelector('section.family')).breakBefore") == "page"
        assert browser.evaluate("getComputedStyle(document.querySelector('thead')).display") == "table-header-group"
        assert browser.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    finally:
        browser.emulate_media("")
    pdf = b64decode(browser.call("Page.printToPDF", printBackground=True)["data"])
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert pages >= 1 + html.count('<section class="family"')  # the summary, then each family
