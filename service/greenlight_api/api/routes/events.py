"""Event streams (server-sent events) of Release changes, fed by the cache's watch.

- `GET /api/v1/namespaces/{ns}/releases/{name}/events`: one Release. It starts with the
  current state (`status`), sends a `status` event on each change of its status, generation
  or pending actions, and ends with an `end` event once the release of the current
  generation is over (`ended`: a terminal phase, observed, no action pending), when the
  Release is deleted, or when the service shuts down (reason `shutdown`: reconnect). A
  pipeline follows a release with `curl -N` until the stream closes.
- `GET /api/v1/events`: every Release the caller may list (`release` events with the change
  type and the summary). Opening it needs `list`, cluster-wide or in a namespace served. The
  dashboard follows it.

Both are re-authorized as they go and end after a while (`api.streams`: reasons `expired`,
`unauthorized`, `forbidden`, `unavailable`), and a user may hold only so many (429).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from greenlight_api import auth, cache, records, schemas, sse
from greenlight_api.api import deps, streams
from greenlight_api.core.config import Settings
from greenlight_api.core.metrics import Metrics

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["events"])

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {sse.MEDIA_TYPE: {}}, "description": "A stream of events."}
}


def _status_event(record: records.ReleaseRecord) -> bytes:
    return sse.event("status", record.summary_json, event_id=record.resource_version)


def _end_event(reason: str, record: records.ReleaseRecord) -> bytes:
    return sse.event("end", {"reason": reason, "phase": record.status.phase.value})


def _state(record: records.ReleaseRecord) -> tuple[object, ...]:
    return (record.status, record.generation, tuple(sorted(record.pending_actions.items())))


def _wait(access: streams.StreamAccess, keepalive: float, deadline: float) -> float:
    """How long to wait for changes: until a keep-alive, a re-check or the end is due."""
    return max(0.0, min(keepalive, access.next_check_in(), deadline - time.monotonic()))


def _access(
    request: Request, caller: auth.Caller, authenticator: auth.Authenticator, settings: Settings
) -> streams.StreamAccess:
    return streams.StreamAccess(
        authenticator,
        request.headers.get("authorization"),
        caller,
        every=settings.auth_cache_seconds,
    )


def _respond(
    body: AsyncIterator[bytes], caller: auth.Caller, slots: streams.StreamSlots
) -> StreamingResponse:
    give_back = slots.take(caller.name)  # last: nothing may fail between this and the answer
    return streams.SlotResponse(
        body, give_back=give_back, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS
    )


async def _follow_one(
    release_cache: cache.ReleaseCache,
    record: records.ReleaseRecord,
    access: streams.StreamAccess,
    settings: Settings,
    metrics: Metrics,
) -> AsyncIterator[bytes]:
    key = record.key
    namespace, name = key
    keepalive = settings.sse_keepalive_seconds
    deadline = time.monotonic() + streams.lifetime(settings.sse_max_stream_seconds)
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
                if time.monotonic() >= deadline:
                    yield _end_event("expired", record)
                    return
                try:
                    await access.check_token()
                    if not await access.may_get(namespace, name):
                        raise streams.Revoked("forbidden")
                except streams.Revoked as revoked:
                    yield _end_event(revoked.reason, record)
                    return
                changes = await subscription.next(_wait(access, keepalive, deadline))
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
    responses={**_STREAM, **schemas.PROBLEMS},
)
async def follow_release(
    request: Request,
    caller: deps.ReaderDep,
    authenticator: deps.AuthenticatorDep,
    record: deps.RecordDep,
    release_cache: deps.CacheDep,
    settings: deps.SettingsDep,
    metrics: deps.MetricsDep,
    slots: deps.StreamSlotsDep,
) -> StreamingResponse:
    access = _access(request, caller, authenticator, settings)
    return _respond(_follow_one(release_cache, record, access, settings, metrics), caller, slots)


async def _follow_all(
    release_cache: cache.ReleaseCache,
    namespace: str | None,
    access: streams.StreamAccess,
    settings: Settings,
    metrics: Metrics,
) -> AsyncIterator[bytes]:
    keepalive = settings.sse_keepalive_seconds
    deadline = time.monotonic() + streams.lifetime(settings.sse_max_stream_seconds)
    metrics.streams.inc()
    try:
        with release_cache.subscribe(
            lambda key: namespace is None or key[0] == namespace
        ) as subscription:
            yield sse.event("ready", {"user": access.caller.name})
            while not subscription.ended:
                try:
                    if time.monotonic() >= deadline:
                        raise streams.Revoked("expired")
                    await access.check_token()
                    changes = await subscription.next(_wait(access, keepalive, deadline))
                    if not changes and not subscription.ended:
                        yield sse.KEEPALIVE
                    for change in changes:
                        # The verdict of the change's namespace, reviewed again once it aged.
                        if await access.may_list(change.record.namespace):
                            yield sse.event(
                                "release",
                                b'{"type":"'
                                + change.type.encode()
                                + b'","release":'
                                + change.record.summary_json
                                + b"}",
                                event_id=change.record.resource_version,
                            )
                except streams.Revoked as revoked:
                    yield sse.event("end", {"reason": revoked.reason})
                    return
            yield sse.event("end", {"reason": "shutdown"})
    finally:
        metrics.streams.dec()


@router.get(
    "/events",
    summary="Follow every Release the caller may list (server-sent events)",
    response_class=StreamingResponse,
    responses={**_STREAM, **schemas.PROBLEMS},
)
async def follow_all(
    request: Request,
    caller: deps.CallerDep,
    authenticator: deps.AuthenticatorDep,
    release_cache: deps.CacheDep,
    settings: deps.SettingsDep,
    metrics: deps.MetricsDep,
    slots: deps.StreamSlotsDep,
    namespace: deps.NamespaceFilter = None,
) -> StreamingResponse:
    if namespace is not None:
        await authenticator.require(caller, verb="list", namespace=namespace)
    else:
        # As the list does: cluster-wide, or per namespace served. Nothing to list anywhere
        # is a 403, not a stream kept open for nobody.
        served = release_cache.namespaces() | set(settings.namespaces)
        readable = await authenticator.readable(caller, served)
        if readable is not None and not readable:
            raise auth.Forbidden(
                f"user {caller.name!r} may not list releases.greenlight.dev in any namespace"
            )
    access = _access(request, caller, authenticator, settings)
    return _respond(_follow_all(release_cache, namespace, access, settings, metrics), caller, slots)
