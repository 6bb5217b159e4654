"""The app: `uvicorn greenlight_sample.main:app`, or `python -m greenlight_sample` for the drain.

`create_app` builds it from settings (read from the environment by default) and a clock;
`GET /` says who answered, `/healthz` and `/readyz` are the probes, `/metrics` is Prometheus
text. Every answer carries `X-App-Version` and `X-App-Color`, so a client can tell which
colour served it without reading the body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fastapi import FastAPI, Path
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from greenlight_sample.behaviour import Behaviour
from greenlight_sample.settings import Settings, load_settings

# The paths counted by name in the metrics; anything else is "other", which keeps the label
# set bounded whatever clients ask for.
PATHS = ("/", "/healthz", "/readyz", "/metrics")
MAX_DELAY_SECONDS = 30.0


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (several apps in one test)."""

    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sample_app_requests",
            "HTTP requests answered, by path and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sample_app_request_duration_seconds",
            "Time to answer an HTTP request, by path.",
            ["path"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "sample_app_requests_in_flight",
            "HTTP requests being answered.",
            registry=self.registry,
        )
        self.info = Gauge(
            "sample_app_info",
            "Always 1; the labels say which build and colour this is.",
            ["version", "color"],
            registry=self.registry,
        )
        self.info.labels(settings.app_version, settings.greenlight_color).set(1)


class Observe:
    """ASGI middleware: the identity headers on every answer, and the request metrics."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, settings: Settings) -> None:
        self.app = app
        self.metrics = metrics
        self.headers = [
            (b"x-app-version", settings.app_version.encode("latin-1", "replace")),
            (b"x-app-color", settings.greenlight_color.encode("latin-1", "replace")),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: str = scope["path"]
        if raw_path in PATHS:
            path = raw_path
        elif raw_path.startswith("/delay/"):
            path = "/delay"
        else:
            path = "other"
        status = 500  # unless the app starts an answer: an exception is a 500 to the client

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *self.headers]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.monotonic
) -> FastAPI:
    """The app; "start" (for the startup and fail-after delays) is when this is called."""
    settings = settings or load_settings()
    behaviour = Behaviour(settings, clock=clock)
    metrics = Metrics(settings)
    app = FastAPI(
        title="Greenlight sample app",
        version=settings.app_version,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.behaviour = behaviour
    app.state.metrics = metrics

    identity = {
        "version": settings.app_version,
        "color": settings.greenlight_color,
        "revision": settings.greenlight_revision,
        "pod": settings.pod,
    }

    def answer() -> JSONResponse:
        if behaviour.failing():
            return JSONResponse({"error": "failing (SAMPLE_FAIL_AFTER_SECONDS)"}, 500)
        if behaviour.next_answer_fails():
            return JSONResponse({"error": "injected error (SAMPLE_ERROR_RATE)"}, 500)
        return JSONResponse(identity)

    @app.get("/")
    async def root() -> JSONResponse:
        return answer()

    @app.get("/delay/{seconds}")
    async def delayed(seconds: float = Path(ge=0, le=MAX_DELAY_SECONDS)) -> JSONResponse:
        """`/` after a pause: a request that is still in flight when the app is stopped."""
        await asyncio.sleep(seconds)
        return answer()

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        if behaviour.failing():
            return JSONResponse({"status": "failing"}, 500)
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        if behaviour.failing():
            return JSONResponse({"ready": False, "reason": "failing"}, 500)
        reason = behaviour.unready_reason()
        if reason is not None:
            return JSONResponse({"ready": False, "reason": reason}, 503)
        return JSONResponse({"ready": True})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(Observe, metrics=metrics, settings=settings)
    return app


def __getattr__(name: str) -> FastAPI:
    """`greenlight_sample.main:app`, built from the environment when uvicorn asks for it, not
    when a test imports this module for `create_app`."""
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
