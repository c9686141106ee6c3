"""Headers every response carries (SPEC C2), set in one pure ASGI middleware.

A header a route set itself wins: the HTML bilan and the API docs bring their own
Content-Security-Policy, availability its own Cache-Control. The `Server` banner is not ours to
remove here: uvicorn writes it, and `pdi serve` and the image turn it off.
"""

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# JSON needs nothing from a browser: no script, no style, no frame.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool, personal_data_paths: Iterable[str]):
        self.app = app
        self.headers = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": API_CONTENT_SECURITY_POLICY,
        }
        if hsts:
            self.headers["Strict-Transport-Security"] = HSTS
        self.personal_data_paths = tuple(personal_data_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        personal = scope["path"].startswith(self.personal_data_paths)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
                if personal:
                    # Neither a browser nor a proxy may keep a copy of someone's pathway.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
