"""A real headless Chromium for the tests that open a page: Playwright driving Debian's
`/usr/bin/chromium` (what .ci/run installs; Playwright's own browser builds are never
downloaded: no `playwright install`).

`serve(body, headers)` serves one page on a loopback port; `browser_for_tests()` gives a test its
browser (or skips it where there is none); `launch()` starts the browser with
the flags CI allows (no network beyond loopback, no first-run or background traffic);
`open_page()` loads a URL in a fresh context of a given viewport and reports what the page logged
as errors and every URL it requested.
"""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import Browser, Page, sync_playwright

from tests.helpers import missing

CHROMIUM = "/usr/bin/chromium"  # Debian's package
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
TIMEOUT_MS = 30_000


def find_chromium() -> str | None:
    """Debian's chromium when it is installed."""
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else None


@contextmanager
def browser_for_tests() -> Iterator[Browser]:
    """Debian's chromium, launched, for a test's fixture: the test is skipped where it is not
    installed, and fails under CI=true, where the browser tests may not be skipped."""
    executable = find_chromium()
    if executable is None:
        missing(
            "chromium is not installed (apt-get install chromium); CI runs these tests",
            "chromium is not installed, and CI=true: the browser tests may not be skipped",
        )
    with launch(executable) as browser:
        yield browser


@contextmanager
def launch(executable: str = CHROMIUM) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(ARGS), timeout=TIMEOUT_MS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve(body: bytes, headers: dict[str, str]) -> Iterator[str]:
    """Serve `body` with `headers` at `/` on 127.0.0.1 (any other path is a 404); yield its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            if self.path != "/":
                self.send_error(404)
                return
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageReport:
    """What a page did while it loaded."""

    errors: list[str] = field(default_factory=list)  # console errors, exceptions, CSP refusals
    requests: list[str] = field(default_factory=list)  # every URL requested, the page's own included


@contextmanager
def open_page(
    browser: Browser, url: str, *, width: int, height: int, mobile: bool = False
) -> Iterator[tuple[Page, PageReport]]:
    """`url` loaded in a new context with a viewport of width × height CSS pixels (a phone's, with
    touch and the meta viewport honoured, when `mobile`), once painted."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=1, is_mobile=mobile, has_touch=mobile
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        report = PageReport()
        page.on("request", lambda request: report.requests.append(request.url))
        page.on("pageerror", lambda error: report.errors.append(str(error)))
        page.on("console", lambda message: message.type in ("error", "assert") and report.errors.append(message.text))
        page.goto(url, wait_until="load")
        page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        yield page, report
    finally:
        context.close()
