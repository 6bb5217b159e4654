"""The Release cache: every Release the service serves, kept current by a watch.

Reads never LIST per request: they come from here. One `Watcher` thread per scope (every
namespace, or each configured namespace) follows the adapter's one watch loop
(`greenlight.kube.releases.ReleaseWatch`: LIST, WATCH from the list's resourceVersion, renewed
when the server ends it, LIST again on 410 Gone, back-off on failures, never giving up). The
threads only parse; every change is applied on the event loop (`call_soon_threadsafe`), so the
store needs no locks and subscribers (the event streams) are woken in the order changes
happened.

The cache is synced once every scope has been listed; it stays synced through re-lists, so an
API server hiccup does not turn every replica unready at once (reads are then stale, and the
watch catches up when the API server is back).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal

from greenlight.kube.releases import ReleaseClient, ReleaseWatch
from greenlight_api import records
from greenlight_api.core.metrics import Metrics

logger = logging.getLogger(__name__)

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Change:
    type: ChangeType
    record: records.ReleaseRecord


class Subscription:
    """Changes for one subscriber, coalesced per Release: a slow reader gets the latest
    state of each Release it missed, never an unbounded queue."""

    def __init__(self, cache: ReleaseCache, accept: Callable[[records.Key], bool]) -> None:
        self._cache = cache
        self.accept = accept
        self._pending: dict[records.Key, Change] = {}
        self._wake = asyncio.Event()
        self.ended = False  # the service is stopping: the stream must end

    def end(self) -> None:
        self.ended = True
        self._wake.set()

    def push(self, change: Change) -> None:
        previous = self._pending.get(change.record.key)
        if previous is not None and previous.type == "ADDED" and change.type == "MODIFIED":
            change = Change(type="ADDED", record=change.record)
        self._pending[change.record.key] = change
        self._wake.set()

    async def next(self, idle_seconds: float) -> list[Change]:
        """The changes since the last call; empty after `idle_seconds` without any."""
        if not self._pending and not self.ended:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=idle_seconds)
            except TimeoutError:
                return []
        self._wake.clear()
        changes = list(self._pending.values())
        self._pending.clear()
        return changes

    def close(self) -> None:
        self._cache._subscriptions.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReleaseCache:
    def __init__(self, *, metrics: Metrics | None = None, scopes: Iterable[str | None] = (None,)):
        self._records: dict[records.Key, records.ReleaseRecord] = {}
        self._sorted: list[records.ReleaseRecord] | None = None
        self._subscriptions: set[Subscription] = set()
        self._unsynced: set[str | None] = set(scopes)
        self._metrics = metrics
        self.synced = not self._unsynced
        self.closed = False

    # -- reads ------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> records.ReleaseRecord | None:
        return self._records.get((namespace, name))

    def list(self, namespaces: Iterable[str] | None = None) -> list[records.ReleaseRecord]:
        """Every record, by namespace then name; only those of `namespaces` when given."""
        if self._sorted is None:
            self._sorted = [self._records[key] for key in sorted(self._records)]
        if namespaces is None:
            return self._sorted
        wanted = set(namespaces)
        return [record for record in self._sorted if record.namespace in wanted]

    def namespaces(self) -> set[str]:
        return {namespace for namespace, _ in self._records}

    def __len__(self) -> int:
        return len(self._records)

    def subscribe(self, accept: Callable[[records.Key], bool]) -> Subscription:
        subscription = Subscription(self, accept)
        self._subscriptions.add(subscription)
        if self.closed:
            subscription.end()
        return subscription

    def reopen(self) -> None:
        """A new run of the service (the same app served again): streams may open again."""
        self.closed = False

    def end_subscriptions(self) -> None:
        """The service is stopping: every event stream ends now, and new ones at once."""
        self.closed = True
        for subscription in list(self._subscriptions):
            subscription.end()

    # -- writes: on the event loop only -----------------------------------------------------

    def replace(self, scope: str | None, fresh: Iterable[records.ReleaseRecord]) -> None:
        """A complete listing of `scope` (a namespace, or None for all)."""
        seen: set[records.Key] = set()
        for record in fresh:
            seen.add(record.key)
            self.apply("ADDED" if record.key not in self._records else "MODIFIED", record)
        gone = [
            record
            for key, record in self._records.items()
            if key not in seen and (scope is None or key[0] == scope)
        ]
        for record in gone:
            self.apply("DELETED", record)
        if scope in self._unsynced:
            self._unsynced.discard(scope)
            self.synced = not self._unsynced
            if self.synced:
                logger.info("release cache synced", extra={"releases": len(self._records)})
        self._update_gauges()

    def apply(self, change_type: ChangeType, record: records.ReleaseRecord) -> None:
        key = record.key
        old = self._records.get(key)
        if change_type == "DELETED":
            if old is None:
                return
            del self._records[key]
        else:
            replayed = old is not None and old.resource_version == record.resource_version
            if replayed and record.resource_version:
                return  # replayed by a re-list or a renewed watch: nothing changed
            self._records[key] = record
            change_type = "ADDED" if old is None else "MODIFIED"
        self._sorted = None
        change = Change(type=change_type, record=record)
        for subscription in list(self._subscriptions):
            if subscription.accept(key):
                subscription.push(change)
        self._update_gauges()

    def _update_gauges(self) -> None:
        if self._metrics is not None:
            self._metrics.releases.set(len(self._records))
            self._metrics.cache_synced.set(1 if self.synced else 0)


class Watcher:
    """Keeps one scope of the cache current, from a thread of its own."""

    def __init__(
        self,
        *,
        cache: ReleaseCache,
        client: ReleaseClient,
        loop: asyncio.AbstractEventLoop,
        namespace: str | None,
        watch_seconds: int,
        metrics: Metrics | None = None,
    ) -> None:
        self._cache = cache
        self._loop = loop
        self._namespace = namespace
        self._metrics = metrics
        self._stop = threading.Event()
        self._watch = ReleaseWatch(
            client, namespace, window=watch_seconds, on_restart=self._restarted
        )
        scope = namespace or "all namespaces"
        self._thread = threading.Thread(target=self._run, name=f"watch {scope}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._watch.close()
        self._thread.join(timeout)

    def _post(self, callback: Callable[..., None], *args: object) -> bool:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: the service is gone
            self._stop.set()
            return False
        return True

    def _restarted(self, reason: str) -> None:
        if reason != "renewed":
            logger.info("release watch of %s: %s", self._namespace or "every namespace", reason)
        if self._metrics is not None:
            self._metrics.watch_restarts.labels(reason).inc()

    def _run(self) -> None:
        # The watch retries every failure of the API itself; this only outlives a bug.
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception:
                logger.exception("release watch crashed; retrying in 1 s")
                self._restarted("crash")
                self._stop.wait(1.0)

    def _follow(self) -> None:
        for event in self._watch:
            if event.type == "LISTED":
                fresh = [_encoded(item) for item in event.items]
                if not self._post(self._cache.replace, self._namespace, fresh):
                    return
                continue
            record = _encoded(event.object)
            if not self._post(self._cache.apply, event.type, record):
                return


def _encoded(body: dict[str, Any]) -> records.ReleaseRecord:
    """The record of `body` with its summary's JSON made now, in the watch thread: the event
    loop then only sends bytes."""
    record = records.from_body(body)
    _ = record.summary_json
    return record
