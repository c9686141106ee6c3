"""A real webhook receiver for the tests: a threaded HTTP server on 127.0.0.1 that verifies each
delivery's signature with the `standardwebhooks` package, as a receiver would, and answers what
the test scripts (a status per request, then 204)."""

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    webhook_id: str
    body: dict
    signatures: str
    answered: int
    host: str = ""


class Receiver:
    def __init__(self, delay: float = 0.0):
        self.secrets: dict[str, list[str]] = {}  # path → secrets that must verify
        self.received: list[Received] = []  # every request, verified or not
        self.unverified: list[str] = []
        self.script: dict[str, deque] = {}  # path → answers (status, headers) before the 2xx
        self.delay = delay
        # Called with each verified delivery before it is answered (a test acting meanwhile).
        self.on_delivery: Callable[[Received], None] | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {name: value for name, value in self.headers.items()}
                try:
                    secrets = receiver.secrets[self.path]
                    for secret in secrets:
                        Webhook(secret).verify(raw, headers)
                    body = json.loads(raw)
                except (KeyError, WebhookVerificationError, ValueError) as exc:
                    with receiver.lock:
                        receiver.unverified.append(f"{self.path}: {exc!r}")
                    self.send_response(400)
                    self.end_headers()
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)  # a receiver's work, so that a kill lands mid-burst
                with receiver.lock:
                    script = receiver.script.get(self.path)
                    status, extra = script.popleft() if script else (204, {})
                    received = Received(
                        self.path, headers["webhook-id"], body, headers["webhook-signature"], status, headers["host"]
                    )
                    receiver.received.append(received)
                if receiver.on_delivery is not None:
                    receiver.on_delivery(received)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def expect(self, path: str, *secrets: str) -> None:
        self.secrets[path] = list(secrets)

    def fail(self, path: str, *answers: int | tuple[int, dict]) -> None:
        self.script[path] = deque(answer if isinstance(answer, tuple) else (answer, {}) for answer in answers)

    def delivered(self, path: str) -> list[Received]:
        """The 2xx answers to `path`, in the order they came."""
        with self.lock:
            return [item for item in self.received if item.path == path and 200 <= item.answered < 300]

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class DrippingReceiver:
    """A receiver that takes the request, then sends a 204 answer's head one byte every `interval`
    seconds (about nine seconds in all at the default): a tenant holding the sender's thread.
    Each connection is served on its own thread; `finished` is set if a whole answer went out."""

    ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-Slow: yes\r\n\r\n"

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.connections = 0
        self.finished = threading.Event()
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}{path}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _address = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)  # the request (its head and small body arrive together)
                for byte in self.ANSWER:
                    if self.stopping.wait(self.interval):
                        return
                    connection.sendall(bytes([byte]))
                self.finished.set()
            except OSError:  # the sender gave up and closed the connection
                return

    def __enter__(self) -> "DrippingReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        self.listener.close()
