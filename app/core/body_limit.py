"""The cap on request bodies, applied while they arrive: before any parsing, before the key is checked.

A pure ASGI middleware, so that nothing of an oversized body is ever held: a `Content-Length`
over the cap is refused before a byte of the body is read, and a body sent without one (chunked)
is counted as it streams and refused as soon as it passes the cap. Either way the client gets a
413 problem and the connection is closed, so the rest of the body is never read.
"""

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PROBLEM_MEDIA_TYPE, PayloadTooLarge


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]):
        self.app = app
        # The cap of a path: one for every route, larger for the batch endpoint.
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return

        received = 0
        refused = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not response_started:
                        await _refuse(send, limit)
                    # The application sees a client that went away: it stops reading and
                    # whatever it answers is dropped below.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isascii() and value.isdigit() else None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(PayloadTooLarge(f"A request body may not exceed {limit} bytes").to_problem()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                # The unread rest of the body must not be taken for the next request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
