"""The app: `uvicorn greenlight_api.main:app`.

`create_app` assembles the routers, the error answers and the request middleware; the
lifespan connects to Kubernetes, starts the Release watch and installs the drain on SIGTERM.
Tests call `create_app` with their own settings and, for route tests, a fake cluster (then
nothing is watched and the test fills the cache itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import greenlight_api
from greenlight.kube.client import load_api_client
from greenlight_api import auth, cache
from greenlight_api.api import errors, streams
from greenlight_api.api.routes import dashboard, events, health, releases
from greenlight_api.core import logging as json_logging
from greenlight_api.core.body_limit import BodyLimitMiddleware
from greenlight_api.core.config import AuthMode, Settings, get_settings
from greenlight_api.core.lifecycle import Lifecycle
from greenlight_api.core.metrics import create_metrics
from greenlight_api.core.middleware import RequestMiddleware
from greenlight_api.kube.gateway import Cluster, KubeCluster

logger = logging.getLogger("greenlight_api")

STATIC = Path(__file__).parent / "static"


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.auth is AuthMode.NONE:
        logger.warning(
            "AUTHENTICATION IS OFF (GREENLIGHT_API_AUTH=none): anyone who can reach this "
            "service can promote, abort and roll back every Release it sees. Local "
            "development only; never deploy it like this."
        )
    lifecycle: Lifecycle = app.state.lifecycle
    release_cache: cache.ReleaseCache = app.state.cache
    lifecycle.start()
    release_cache.reopen()
    lifecycle.install()
    lifecycle.on_stop(release_cache.end_subscriptions)
    kube: KubeCluster | None = None
    watchers: list[cache.Watcher] = []
    try:
        if app.state.cluster is None:
            api_client = await asyncio.to_thread(
                load_api_client,
                kubeconfig=settings.kubeconfig,
                context=settings.context,
                # Enough connections for every worker thread and every watch at once.
                pool_size=settings.kube_threads + 2 * (len(settings.namespaces) or 1),
            )
            kube = KubeCluster(
                api_client,
                timeout=settings.kube_timeout_seconds,
                threads=settings.kube_threads,
                audiences=tuple(settings.auth_audiences),
            )
            app.state.cluster = kube
            app.state.authenticator = _authenticator(settings, kube, app)
            loop = asyncio.get_running_loop()
            scopes: list[str | None] = [*settings.namespaces] or [None]
            for namespace in scopes:
                watcher = cache.Watcher(
                    cache=release_cache,
                    client=kube.releases,
                    loop=loop,
                    namespace=namespace,
                    watch_seconds=settings.watch_timeout_seconds,
                    metrics=app.state.metrics,
                )
                watcher.start()
                watchers.append(watcher)
        logger.info(
            "greenlight-api %s started",
            greenlight_api.__version__,
            extra={"auth": settings.auth.value, "namespaces": settings.namespaces or "all"},
        )
        yield
    finally:
        await lifecycle.close()
        lifecycle.uninstall()
        for watcher in watchers:
            await asyncio.to_thread(watcher.stop)
        if kube is not None:
            kube.close()
            app.state.cluster = None


def _authenticator(settings: Settings, cluster: Cluster | None, app: FastAPI) -> auth.Authenticator:
    return auth.Authenticator(
        mode=settings.auth,
        cluster=cluster,
        cache_seconds=settings.auth_cache_seconds,
        metrics=app.state.metrics,
        new_tokens_per_second=settings.auth_new_tokens_per_second,
    )


def create_app(
    settings: Settings | None = None,
    *,
    cluster: Cluster | None = None,
    configure_logging: bool = True,
) -> FastAPI:
    settings = settings or get_settings()
    if configure_logging:
        json_logging.configure_logging(settings.log_level)
    app = FastAPI(
        title="Greenlight API",
        version=greenlight_api.__version__,
        summary="Health-gated blue-green Releases: follow them, promote, abort, roll back.",
        lifespan=_lifespan,
        # The docs pages load unpinned scripts from a CDN: only when asked for.
        docs_url="/docs" if settings.docs_ui else None,
        redoc_url="/redoc" if settings.docs_ui else None,
    )
    metrics = create_metrics()
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.lifecycle = Lifecycle(drain_grace_seconds=settings.drain_grace_seconds)
    app.state.cache = cache.ReleaseCache(metrics=metrics, scopes=settings.namespaces or [None])
    app.state.cluster = cluster
    app.state.stream_slots = streams.StreamSlots(settings.sse_max_streams_per_user)
    app.state.authenticator = (
        _authenticator(settings, cluster, app)
        if cluster is not None or settings.auth is AuthMode.NONE
        else None
    )
    errors.install(app)
    for routes in (health, releases, events, dashboard):
        app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # The last added is the outermost: the request middleware logs and counts the 413s too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMiddleware, metrics=metrics)
    return app


def __getattr__(name: str) -> FastAPI:
    """`greenlight_api.main:app`, built (and logging configured) when uvicorn asks for it,
    not when a test imports this module for `create_app`."""
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
