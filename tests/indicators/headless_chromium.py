"""A real headless Chromium, driven over the DevTools protocol, for the tests that open a page.

`serve(body, headers)` serves one page on a loopback port; `Chromium` starts the browser with
the flags CI allows (no network beyond loopback, no first-run or background traffic) and
opens pages, collecting what the page logged as errors and every URL it requested.
"""

import json
import queue
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from base64 import b64decode
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from websockets.sync.client import connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",  # the browser picks a free port and prints it
)
START_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0


def find_chromium() -> str | None:
    """Debian's `chromium` (what .ci/run installs)."""
    return shutil.which("chromium")


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


class Chromium:
    """One browser process and its first tab. Use as a context manager."""

    def __init__(self, executable: str, profile_dir: Path):
        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stderr: queue.Queue[str] = queue.Queue()
        # Drained for the browser's whole life, so that a full pipe never blocks it.
        threading.Thread(target=self._read_stderr, daemon=True).start()
        port = self._debugging_port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        page = next(target for target in targets if target["type"] == "page")
        self._closing = ExitStack()
        self.socket = self._closing.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10))
        self._next_id = 0
        self._events: list[dict] = []

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr.put(line)

    def _debugging_port(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self._stderr.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            seen.append(line)
            found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if found:
                return int(found.group(1))
        self.close()
        raise RuntimeError("Chromium did not start:\n" + "".join(seen[-20:]))

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_closing", None) is not None:
            self._closing.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    # --- the protocol -----------------------------------------------------------------------

    def call(self, method: str, **params) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        call_id = self._next_id
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def wait_for(self, event: str) -> dict:
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            for index, message in enumerate(self._events):
                if message.get("method") == event:
                    return self._events.pop(index)["params"]
            self._events.append(json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic()))))

    # --- what the tests use -----------------------------------------------------------------

    def open(self, url: str, *, width: int, height: int, mobile: bool = False) -> PageReport:
        """Load `url` in a viewport of width × height CSS pixels; report what the page did."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        self._events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        report = PageReport()
        for message in self._events:
            method, params = message.get("method"), message.get("params", {})
            if method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                report.errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                report.errors.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                report.errors.append(params["entry"]["text"])
        self._events.clear()
        return report

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (run by the test, not the page)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def emulate_media(self, media: str) -> None:
        """`print` to see the page as it prints; `` to go back to the screen."""
        self.call("Emulation.setEmulatedMedia", media=media)

    def screenshot(self, path: Path, *, width: int, height: int | None = None) -> None:
        """A PNG of the page at `width` CSS pixels: its top `height` pixels, or all of it."""
        if height is None:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        shot = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(b64decode(shot["data"]))
