"""Watch streams: the per-resource event logs and the streaming of one watch request.

Every change in the store appends one :class:`WatchEvent` (with its global resource
version) to its resource's log. A watch request streams:

- without ``resourceVersion`` (or with ``"0"``): ``ADDED`` for every current object,
  then live events; with ``sendInitialEvents=true`` a ``BOOKMARK`` marks the end of those;
- with ``resourceVersion=N``: only the events after N (410 ``Expired`` if N is older
  than what the log still holds).

Selectors are applied to each event as Kubernetes does: an object that stops matching is
reported ``DELETED`` to that watcher, one that starts matching ``ADDED``. The stream ends
after ``timeoutSeconds``, when the client goes away, or when the emulator stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import aiohttp.web

from greenlight_sandbox.emulator.errors import status_body
from greenlight_sandbox.emulator.selectors import Selection

Obj = dict[str, Any]

MAX_EVENTS_PER_RESOURCE = 100_000


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj  # the new state (the last state for DELETED); never mutated once published
    old: Obj | None  # the previous state, for selector transitions


class EventLog:
    """The retained events of one resource, oldest first, and a wake-up for waiters."""

    def __init__(self) -> None:
        self.events: list[WatchEvent] = []
        self.dropped_up_to = 0  # the rv of the newest event no longer retained
        self.changed = asyncio.Event()

    def append(self, event: WatchEvent) -> None:
        self.events.append(event)
        if len(self.events) > MAX_EVENTS_PER_RESOURCE:
            half = len(self.events) // 2
            self.dropped_up_to = self.events[half - 1].rv
            del self.events[:half]
        self.changed.set()
        self.changed = asyncio.Event()

    def position_after(self, rv: int) -> int:
        """The index of the first retained event newer than ``rv``."""
        lo, hi = 0, len(self.events)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.events[mid].rv <= rv:
                lo = mid + 1
            else:
                hi = mid
        return lo


class WatchHub:
    """All event logs, keyed by a resource's storage key (group, plural)."""

    def __init__(self) -> None:
        self.logs: dict[tuple[str, str], EventLog] = {}
        self.stopping = asyncio.Event()

    def log(self, key: tuple[str, str]) -> EventLog:
        if key not in self.logs:
            self.logs[key] = EventLog()
        return self.logs[key]

    def publish(self, key: tuple[str, str], event: WatchEvent) -> None:
        self.log(key).append(event)


def translate(event: WatchEvent, selection: Selection) -> tuple[str, Obj] | None:
    """What one watcher sees of an event, given its selection (or None)."""
    new_matches = selection.matches(event.obj)
    if event.type == "MODIFIED" and event.old is not None:
        old_matches = selection.matches(event.old)
        if old_matches and new_matches:
            return "MODIFIED", event.obj
        if old_matches:
            return "DELETED", event.obj
        if new_matches:
            return "ADDED", event.obj
        return None
    if event.type == "DELETED":
        return ("DELETED", event.obj) if selection.matches(event.old or event.obj) else None
    return (event.type, event.obj) if new_matches else None


@dataclasses.dataclass
class WatchRequest:
    key: tuple[str, str]
    api_version: str
    kind: str
    selection: Selection
    since: int | None  # None: start with the current objects
    timeout: float | None
    initial_events_bookmark: bool
    snapshot: Callable[[], tuple[list[Obj], str]]  # the current matching objects and the rv


def _line(event_type: str, obj: Obj, api_version: str) -> bytes:
    if obj.get("apiVersion") != api_version and event_type != "ERROR":
        obj = {**obj, "apiVersion": api_version}
    return json.dumps({"type": event_type, "object": obj}).encode() + b"\n"


async def serve_watch(
    raw_request: aiohttp.web.BaseRequest, hub: WatchHub, watch: WatchRequest
) -> aiohttp.web.StreamResponse:
    """Stream one watch request to its end; return the (finished) response."""
    log = hub.log(watch.key)
    response = aiohttp.web.StreamResponse(status=200)
    response.content_type = "application/json"
    response.enable_chunked_encoding()

    initial: list[bytes] = []
    if watch.since is None:
        items, rv = watch.snapshot()  # atomic with taking the position: no await in between
        last_rv = int(rv)
        initial = [_line("ADDED", item, watch.api_version) for item in items]
        if watch.initial_events_bookmark:
            bookmark = {
                "kind": watch.kind,
                "apiVersion": watch.api_version,
                "metadata": {
                    "resourceVersion": rv,
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            }
            initial.append(_line("BOOKMARK", bookmark, watch.api_version))
    else:
        last_rv = watch.since

    loop = asyncio.get_running_loop()
    deadline = None if watch.timeout is None else loop.time() + watch.timeout
    with contextlib.suppress(ConnectionError):
        await response.prepare(raw_request)
        for line in initial:
            await response.write(line)
        while not hub.stopping.is_set():
            log = hub.log(watch.key)
            if last_rv < log.dropped_up_to:
                gone = status_body(
                    410,
                    f"too old resource version: {last_rv} ({log.dropped_up_to})",
                    reason="Expired",
                )
                await response.write(_line("ERROR", gone, watch.api_version))
                break
            events = log.events[log.position_after(last_rv) :]
            changed = log.changed
            for event in events:
                seen = translate(event, watch.selection)
                if seen is not None:
                    await response.write(_line(seen[0], seen[1], watch.api_version))
            if events:
                last_rv = events[-1].rv
                continue
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            stop_waiter = asyncio.ensure_future(hub.stopping.wait())
            change_waiter = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait(
                    {stop_waiter, change_waiter},
                    timeout=remaining,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                stop_waiter.cancel()
                change_waiter.cancel()
        await response.write_eof()
    return response
