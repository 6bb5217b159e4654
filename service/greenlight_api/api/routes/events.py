"""Event streams (server-sent events) of Release changes, fed by the cache's watch.

- `GET /api/v1/namespaces/{ns}/releases/{name}/events`: one Release. It starts with the
  current state (`status`), sends a `status` event on each change of its status, generation
  or pending actions, and ends with an `end` event once the release of the current
  generation is over (`ended`: a terminal phase, observed, no action pending), when the
  Release is deleted, or when the service shuts down (reason `shutdown`: reconnect). A
  pipeline follows a release with `curl -N` until the stream closes.
- `GET /api/v1/events`: every Release the caller may list (`release` events with the change
  type and the summary); it does not end on its own. The dashboard follows it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from greenlight_api import auth, cache, records, schemas, sse
from greenlight_api.api import deps
from greenlight_api.core.metrics import Metrics
from greenlight_api.kube import errors as kube_errors

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["events"])

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {sse.MEDIA_TYPE: {}}, "description": "A stream of events."}
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 422, 503)
}


def _status_event(record: records.ReleaseRecord) -> bytes:
    return sse.event("status", record.summary_json, event_id=record.resource_version)


def _end_event(reason: str, record: records.ReleaseRecord) -> bytes:
    return sse.event("end", {"reason": reason, "phase": record.status.phase.value})


def _state(record: records.ReleaseRecord) -> tuple[object, ...]:
    return (record.status, record.generation, tuple(sorted(record.pending_actions.items())))


async def _follow_one(
    release_cache: cache.ReleaseCache,
    record: records.ReleaseRecord,
    keepalive: float,
    metrics: Metrics,
) -> AsyncIterator[bytes]:
    key = record.key
    metrics.streams.inc()
    try:
        with release_cache.subscribe(lambda changed: changed == key) as subscription:
            # Read again once subscribed: no change can fall between the two.
            current = release_cache.get(*key)
            if current is None:
                yield _end_event("deleted", record)
                return
            record = current
            yield _status_event(record)
            if record.ended:
                yield _end_event("ended", record)
                return
            sent = _state(record)
            while not subscription.ended:
                changes = await subscription.next(keepalive)
                if not changes:
                    if not subscription.ended:
                        yield sse.KEEPALIVE
                    continue
                for change in changes:
                    record = change.record
                    if change.type == "DELETED":
                        yield _end_event("deleted", record)
                        return
                    if _state(record) != sent:
                        sent = _state(record)
                        yield _status_event(record)
                    if record.ended:
                        yield _end_event("ended", record)
                        return
            yield _end_event("shutdown", record)
    finally:
        metrics.streams.dec()


@router.get(
    "/namespaces/{ns}/releases/{name}/events",
    summary="Follow one Release's status until its release ends (server-sent events)",
    response_class=StreamingResponse,
    responses={**_STREAM, **_ERRORS},
)
async def follow_release(
    _: deps.ReaderDep,
    record: deps.RecordDep,
    release_cache: deps.CacheDep,
    settings: deps.SettingsDep,
    metrics: deps.MetricsDep,
) -> StreamingResponse:
    return StreamingResponse(
        _follow_one(release_cache, record, settings.sse_keepalive_seconds, metrics),
        media_type=sse.MEDIA_TYPE,
        headers=sse.HEADERS,
    )


async def _may_list(
    caller: auth.Caller, authenticator: auth.Authenticator, namespace: str
) -> bool | None:
    """Whether the caller may list Releases in `namespace`; None: cannot tell right now."""
    try:
        for scope in ("", namespace):
            if (await authenticator.review(caller, verb="list", namespace=scope)).allowed:
                return True
    except kube_errors.KubeError as exc:
        logger.warning("event stream: cannot review access to %s: %s", namespace, exc)
        return None
    return False


async def _follow_all(
    release_cache: cache.ReleaseCache,
    namespace: str | None,
    caller: auth.Caller,
    authenticator: auth.Authenticator,
    keepalive: float,
    metrics: Metrics,
) -> AsyncIterator[bytes]:
    allowed: dict[str, bool] = {}
    metrics.streams.inc()
    try:
        with release_cache.subscribe(
            lambda key: namespace is None or key[0] == namespace
        ) as subscription:
            yield sse.event("ready", {"user": caller.name})
            while not subscription.ended:
                changes = await subscription.next(keepalive)
                if not changes and not subscription.ended:
                    yield sse.KEEPALIVE
                for change in changes:
                    changed_in = change.record.namespace
                    if changed_in not in allowed:
                        verdict = await _may_list(caller, authenticator, changed_in)
                        if verdict is None:
                            continue
                        allowed[changed_in] = verdict
                    if allowed[changed_in]:
                        yield sse.event(
                            "release",
                            b'{"type":"'
                            + change.type.encode()
                            + b'","release":'
                            + change.record.summary_json
                            + b"}",
                            event_id=change.record.resource_version,
                        )
            yield sse.event("end", {"reason": "shutdown"})
    finally:
        metrics.streams.dec()


@router.get(
    "/events",
    summary="Follow every Release the caller may list (server-sent events)",
    response_class=StreamingResponse,
    responses={**_STREAM, **_ERRORS},
)
async def follow_all(
    caller: deps.CallerDep,
    authenticator: deps.AuthenticatorDep,
    release_cache: deps.CacheDep,
    settings: deps.SettingsDep,
    metrics: deps.MetricsDep,
    namespace: deps.NamespaceFilter = None,
) -> StreamingResponse:
    if namespace is not None:
        await authenticator.require(caller, verb="list", namespace=namespace)
    return StreamingResponse(
        _follow_all(
            release_cache,
            namespace,
            caller,
            authenticator,
            settings.sse_keepalive_seconds,
            metrics,
        ),
        media_type=sse.MEDIA_TYPE,
        headers=sse.HEADERS,
    )
