"""Liveness, readiness, version and metrics: what Kubernetes and Prometheus ask of a pod.

`/healthz` does no I/O and never fails while the process can answer. `/readyz` is 503 until
the Release cache is synced, and again from SIGTERM on (see `core.lifecycle`), so that
traffic leaves this pod before it stops.
"""

from __future__ import annotations

import functools
import importlib.metadata

import prometheus_client
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

import greenlight_api
from greenlight_api import schemas
from greenlight_api.api import deps

router = APIRouter(tags=["health"])

_OK = b'{"status":"ok"}'


@functools.cache
def _version() -> str:
    try:
        return importlib.metadata.version("greenlight")
    except importlib.metadata.PackageNotFoundError:
        return greenlight_api.__version__


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Response:
    return Response(_OK, media_type="application/json")


@router.get(
    "/readyz",
    summary="Readiness: the cache is synced and the service is not draining",
    response_model=schemas.Readiness,
    responses={503: {"model": schemas.Readiness}},
)
async def readyz(
    lifecycle: deps.LifecycleDep, release_cache: deps.UnsyncedCacheDep
) -> JSONResponse:
    if lifecycle.draining:
        ready, reason = False, "draining: shutting down"
    elif not release_cache.synced:
        ready, reason = False, "the release cache is not synced yet"
    else:
        ready, reason = True, f"serving {len(release_cache)} releases"
    return JSONResponse({"ready": ready, "reason": reason}, status_code=200 if ready else 503)


@router.get("/version", summary="Version, revision and colour", response_model=schemas.Version)
async def version(settings: deps.SettingsDep) -> schemas.Version:
    return schemas.Version(version=_version(), revision=settings.revision, color=settings.color)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(metrics: deps.MetricsDep) -> Response:
    return Response(metrics.render(), media_type=prometheus_client.CONTENT_TYPE_LATEST)
