"""The Release cache: listings, watch events, subscriptions, and the watcher's recovery."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from greenlight.kube import errors
from greenlight_api import cache, records
from tests.service import factories


def rec(name: str, namespace: str = "shop", rv: str = "1", **kw: Any) -> records.ReleaseRecord:
    return records.from_body(factories.release(name, namespace, resource_version=rv, **kw))


def test_synced_only_once_every_scope_is_listed() -> None:
    store = cache.ReleaseCache(scopes=["a", "b"])
    assert not store.synced
    store.replace("a", [rec("web", "a")])
    assert not store.synced
    store.replace("b", [])
    assert store.synced
    assert [r.key for r in store.list()] == [("a", "web")]


def test_a_relisting_removes_what_is_gone_in_its_scope_only() -> None:
    store = cache.ReleaseCache(scopes=["a", "b"])
    store.replace("a", [rec("x", "a"), rec("y", "a")])
    store.replace("b", [rec("z", "b")])
    store.replace("a", [rec("y", "a", rv="2")])
    assert [r.key for r in store.list()] == [("a", "y"), ("b", "z")]
    assert store.get("a", "y").resource_version == "2"  # type: ignore[union-attr]


def test_list_is_sorted_and_filtered() -> None:
    store = cache.ReleaseCache()
    store.replace(None, [rec("b", "n2"), rec("a", "n2"), rec("z", "n1")])
    assert [r.key for r in store.list()] == [("n1", "z"), ("n2", "a"), ("n2", "b")]
    assert [r.name for r in store.list(["n2"])] == ["a", "b"]
    assert store.namespaces() == {"n1", "n2"}


@pytest.mark.asyncio
async def test_subscribers_get_matching_changes_coalesced_per_release() -> None:
    store = cache.ReleaseCache()
    store.replace(None, [rec("web")])
    with store.subscribe(lambda key: key == ("shop", "web")) as sub:
        store.apply("MODIFIED", rec("web", rv="2", phase="Progressing"))
        store.apply("MODIFIED", rec("web", rv="3", phase="Verifying"))
        store.apply("ADDED", rec("other", rv="4"))
        changes = await sub.next(1)
        assert [(c.type, c.record.status.phase.value) for c in changes] == [
            ("MODIFIED", "Verifying")
        ]
        store.apply("DELETED", rec("web", rv="5"))
        assert [c.type for c in await sub.next(1)] == ["DELETED"]
        assert await sub.next(0.01) == []
    assert not store._subscriptions


@pytest.mark.asyncio
async def test_replayed_versions_are_not_changes() -> None:
    store = cache.ReleaseCache()
    store.replace(None, [rec("web", rv="7")])
    with store.subscribe(lambda key: True) as sub:
        store.replace(None, [rec("web", rv="7")])
        assert await sub.next(0.01) == []


@pytest.mark.asyncio
async def test_ending_subscriptions_wakes_their_readers() -> None:
    store = cache.ReleaseCache()
    store.replace(None, [])
    sub = store.subscribe(lambda key: True)
    reader = asyncio.create_task(sub.next(30))
    await asyncio.sleep(0)
    store.end_subscriptions()
    assert await asyncio.wait_for(reader, 1) == []
    assert sub.ended
    assert store.subscribe(lambda key: True).ended  # and new ones end at once


class FakeReleaseClient:
    """Scripted LIST and WATCH answers for the watcher."""

    def __init__(self) -> None:
        self.lists: list[list[dict[str, Any]]] = []
        self.watches: list[list[WatchEvent] | Exception] = []
        self.connect_timeout = 1.0
        self.calls: list[str] = []
        self.idle = threading.Event()

    def list(self, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        self.calls.append("list")
        if not self.lists:
            raise errors.Unreachable("no more listings scripted")
        return self.lists.pop(0), "100"

    def watch_once(self, namespace: str | None, *, version: str, **_: Any) -> Any:
        self.calls.append(f"watch from {version}")
        if not self.watches:
            self.idle.set()
            return _Blocking()
        step = self.watches.pop(0)
        if isinstance(step, Exception):
            raise step
        return _Events(step)


WatchEvent = tuple[str, dict[str, Any]]


class _Events:
    def __init__(self, events: list[WatchEvent]) -> None:
        self.events = events

    def __iter__(self) -> Iterator[WatchEvent]:
        return iter(self.events)

    def close(self) -> None:
        pass


class _Blocking:
    def __init__(self) -> None:
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[WatchEvent]:
        self.closed.wait(10)
        return iter(())

    def close(self) -> None:
        self.closed.set()


def _event(kind: str, name: str, rv: str, **kw: Any) -> WatchEvent:
    return kind, factories.release(name, resource_version=rv, **kw)


@pytest.mark.asyncio
async def test_watcher_lists_watches_renews_and_relists_on_410() -> None:
    client = FakeReleaseClient()
    client.lists = [[factories.release("web", resource_version="100")], []]
    client.watches = [
        [_event("MODIFIED", "web", "101", phase="Verifying"), _event("ADDED", "api", "102")],
        [_event("BOOKMARK", "web", "150")],
        errors.Expired("too old"),
    ]
    store = cache.ReleaseCache()
    watcher = cache.Watcher(
        cache=store,
        client=client,  # type: ignore[arg-type]
        loop=asyncio.get_running_loop(),
        namespace=None,
        watch_seconds=60,
    )
    watcher.start()
    try:
        await asyncio.to_thread(client.idle.wait, 5)
        for _ in range(100):  # let the loop apply what the thread posted
            if store.synced and not len(store):
                break
            await asyncio.sleep(0.01)
    finally:
        await asyncio.to_thread(watcher.stop)
    assert client.calls == [
        "list",
        "watch from 100",
        "watch from 102",  # renewed from the last version seen
        "watch from 150",  # a bookmark moves the version on
        "list",  # 410 Gone: list again
        "watch from 100",
    ]
    assert store.synced and len(store) == 0  # the second listing was empty


@pytest.mark.asyncio
async def test_watcher_backs_off_and_retries_when_the_api_fails() -> None:
    client = FakeReleaseClient()
    client.lists = []  # the first LIST fails
    store = cache.ReleaseCache()
    watcher = cache.Watcher(
        cache=store,
        client=client,  # type: ignore[arg-type]
        loop=asyncio.get_running_loop(),
        namespace="shop",
        watch_seconds=60,
    )
    watcher.start()
    try:
        for _ in range(200):
            if client.calls:
                break
            await asyncio.sleep(0.005)
        client.lists.append([factories.release("web")])
        await asyncio.to_thread(client.idle.wait, 5)
        for _ in range(100):
            if store.get("shop", "web"):
                break
            await asyncio.sleep(0.01)
    finally:
        await asyncio.to_thread(watcher.stop)
    assert client.calls[:2] == ["list", "list"]
    assert store.get("shop", "web") is not None
