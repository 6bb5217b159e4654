"""The cap on request bodies, enforced before anything reads one.

No route needs more than a few bytes (the largest body is the rollback's `{"revision": n}`),
so a body over `GREENLIGHT_API_MAX_BODY_BYTES` is refused with 413: at once when its
`Content-Length` says so, else as soon as the bytes received pass the cap (a chunked body has
no length). It is an ASGI middleware, below the routes and their body parsing, so an
anonymous client cannot make a pod buffer a large body before it is authenticated.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from greenlight_api.core.middleware import send_json


class _TooLarge(Exception):
    """Raised from `receive` when the body passes the cap; answered with 413."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await self._refuse(send)
                return
        received = 0
        responded = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _TooLarge:
            if responded:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        detail = f"request body larger than {self.max_bytes} bytes"
        # The rest of the body is never read: the connection cannot be reused.
        await send_json(send, 413, detail, (b"connection", b"close"))
