"""What the server bounds before the application sees a request: the size of the request head,
the time its headers may take to arrive (uvicorn, as `pdi serve` runs it), and the number of
headers (an ASGI middleware, whatever the server).

uvicorn's h11 parser buffers at most `h11_max_incomplete_event_size` bytes of an unfinished
request line and headers, then answers 400 and closes: a 50 MB header costs no more than that
(uvicorn's other parser, httptools, has no such bound, so `pdi serve` and the image name h11).
uvicorn has no timeout for a request head that trickles in (its `timeout_keep_alive` only closes
idle connections between requests): `HeaderTimeoutH11Protocol` closes a connection whose
request head is not complete PDI_HEADER_TIMEOUT_SECONDS after the connection opened or the last
response ended. In Docker Compose, nginx in front bounds the same things again
(docker/nginx.conf).
"""

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.core.config import get_settings
from app.core.errors import problem, problem_response


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head takes longer than
    PDI_HEADER_TIMEOUT_SECONDS (a class uvicorn can import in each worker process)."""

    _header_timer: asyncio.TimerHandle | None = None
    _cycle_when_armed: object = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is not None and self.cycle is not self._cycle_when_armed:
            self._header_timer.cancel()  # a whole request head arrived in time
            self._header_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._header_timer is None and not self.transport.is_closing():
            self._arm_header_timer()  # the next request on this connection gets the same time

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cycle_when_armed = self.cycle
        seconds = get_settings().header_timeout_seconds
        self._header_timer = self.loop.call_later(seconds, self._header_timed_out)

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.cycle is self._cycle_when_armed and not self.transport.is_closing():
            self.transport.close()


class HeaderCountLimit:
    """431 problem for a request with more than `limit` header fields, or more than `max_bytes`
    of them. h11 bounds the bytes it buffers of an unfinished head (so memory stays bounded), but
    a head that arrives whole in one read (up to asyncio's 256 KB) passes it, and h11 does not
    count fields at all: this says the exact limits, whatever the server."""

    def __init__(self, app: ASGIApp, *, limit: int, max_bytes: int = 0):
        self.app = app
        self.limit = limit
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            if self.limit > 0 and len(headers) > self.limit:
                detail = f"At most {self.limit} header fields per request (PDI_MAX_HEADERS)"
            elif self.max_bytes > 0 and sum(len(name) + len(value) + 4 for name, value in headers) > self.max_bytes:
                detail = f"At most {self.max_bytes} bytes of headers per request (PDI_MAX_HEADER_BYTES)"
            else:
                detail = None
            if detail is not None:
                body = problem(431, "Request header fields too large", detail, slug="headers-too-large")
                await problem_response(body)(scope, receive, send)
                return
        await self.app(scope, receive, send)
