"""One ASGI middleware for every request: its id, its metrics, its access-log line.

A plain ASGI middleware rather than Starlette's `BaseHTTPMiddleware`: it costs a few
microseconds, and it does not buffer streaming responses (the event streams).

- `X-Request-ID`: taken from the request when it is sane (printable, at most 128 characters),
  else generated; set in the logging context and echoed on the response.
- Metrics are labelled with the route *template* (`/api/v1/namespaces/{ns}/releases/{name}`),
  never the raw path, so their cardinality stays bounded.
- Probes and `/metrics` are logged at DEBUG: at INFO they would drown everything else.
- Every answer gets `X-Content-Type-Options: nosniff`; JSON answers `Cache-Control: no-store`
  (they carry what a token may see); HTML pages a Content-Security-Policy unless the route set
  its own (the dashboard's is stricter about its own script and style).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from greenlight_api.core import logging as json_logging
from greenlight_api.core.metrics import Metrics

logger = logging.getLogger("greenlight_api.access")

_SANE_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics", "/static"})
UNMATCHED = "<unmatched>"
# No script, style or frame from anywhere: a page that needs more sets its own policy.
DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {name.lower() for name, _ in headers}
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"").lower()
    added: list[tuple[bytes, bytes]] = []
    if b"x-content-type-options" not in names:
        added.append((b"x-content-type-options", b"nosniff"))
    if b"json" in content_type and b"cache-control" not in names:
        added.append((b"cache-control", b"no-store"))
    if content_type.startswith(b"text/html") and b"content-security-policy" not in names:
        added.append((b"content-security-policy", DEFAULT_CSP))
    return [*headers, *added]


def route_template(scope: Scope) -> str:
    """The path template of the route that served (or would serve) this request."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED


async def send_json(send: Send, status: int, detail: str, *headers: tuple[bytes, bytes]) -> None:
    """Answers `{"detail": detail}` straight through ASGI, with `headers` added."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = ""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                candidate = value.decode("latin-1")
                if _SANE_REQUEST_ID.match(candidate):
                    rid = candidate
                break
        rid = rid or uuid.uuid4().hex
        token = json_logging.request_id.set(rid)
        status = 500
        encoded_rid = rid.encode("latin-1")
        responded = False  # once the response has started, a 500 can no longer be sent

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                headers = [*message.get("headers", []), (b"x-request-id", encoded_rid)]
                message["headers"] = _secured(headers)
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The error boundary: a bug answers 500 with the request id, and is logged once.
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if responded:
                raise
            detail = f"internal error (request id {rid})"
            await send_json(send, 500, detail, (b"x-request-id", encoded_rid))
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
            if logger.isEnabledFor(level):
                logger.log(
                    level,
                    "%s %s %d",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            json_logging.request_id.reset(token)
