"""Small parts of the service: the TTL cache, bearer parsing, the lifecycle, records."""

from __future__ import annotations

import asyncio

import pytest

from greenlight_api import auth, records
from greenlight_api.core.lifecycle import Lifecycle
from greenlight_api.ttl_cache import TTLCache
from tests.service import factories


@pytest.mark.asyncio
async def test_ttl_cache_computes_once_per_key_and_expires() -> None:
    now = [0.0]
    store: TTLCache[int] = TTLCache(seconds=10, clock=lambda: now[0])
    calls = 0
    gate = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return calls

    waiting = [asyncio.create_task(store.get("k", compute)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiting)
    assert [value for value, _ in results] == [1] * 5
    assert [cached for _, cached in results].count(False) == 1
    assert await store.get("k", compute) == (1, True)
    now[0] = 11
    assert await store.get("k", compute) == (2, False)


@pytest.mark.asyncio
async def test_ttl_cache_does_not_keep_failures() -> None:
    store: TTLCache[int] = TTLCache(seconds=10)

    async def fail() -> int:
        raise RuntimeError("down")

    async def succeed() -> int:
        return 3

    with pytest.raises(RuntimeError):
        await store.get("k", fail)
    assert await store.get("k", succeed) == (3, False)


@pytest.mark.asyncio
async def test_ttl_cache_a_cancelled_first_caller_does_not_cancel_the_others() -> None:
    store: TTLCache[int] = TTLCache(seconds=10)
    gate = asyncio.Event()
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 7

    first = asyncio.create_task(store.get("k", compute))
    await asyncio.sleep(0)  # the first caller starts the computation
    second = asyncio.create_task(store.get("k", compute))
    await asyncio.sleep(0)  # the second waits for it
    first.cancel()  # the first caller's client went away
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    assert await second == (7, True)
    assert calls == 1
    assert store.peek("k") == 7  # the computation finished, so its value is kept


@pytest.mark.asyncio
async def test_ttl_cache_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    store: TTLCache[int] = TTLCache(seconds=10)
    gate = asyncio.Event()

    async def fail() -> int:
        await gate.wait()
        raise RuntimeError("down")

    waiting = [asyncio.create_task(store.get("k", fail)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert store.peek("k") is None
    assert await store.get("k", lambda: asyncio.sleep(0, result=4)) == (4, False)


def test_ttl_cache_is_bounded() -> None:
    store: TTLCache[int] = TTLCache(seconds=10, max_entries=2)

    async def fill() -> None:
        for key in "abc":
            await store.get(key, lambda: asyncio.sleep(0, result=1))

    asyncio.run(fill())
    assert store.peek("a") is None and store.peek("c") == 1


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (None, "missing Authorization header"),
        ("", "missing Authorization header"),
        ("Basic abc", "malformed Authorization header"),
        ("Bearer", "malformed Authorization header"),
        ("Bearer   ", "malformed Authorization header"),
        ("Bearer tok\u00e9n", "malformed bearer token"),
    ],
)
def test_bearer_parsing(header: str | None, problem: str) -> None:
    with pytest.raises(auth.Unauthenticated, match=problem):
        auth.bearer_token(header)
    assert auth.bearer_token("bearer  abc.def ") == "abc.def"


@pytest.mark.asyncio
async def test_drain_turns_unready_then_ends_streams_and_calls_on() -> None:
    lifecycle = Lifecycle(drain_grace_seconds=0.05)
    lifecycle.start()
    ended: list[str] = []
    lifecycle.on_stop(lambda: ended.append("streams"))
    done = asyncio.Event()
    lifecycle.begin_drain(done.set)
    assert lifecycle.draining and not ended
    await asyncio.wait_for(done.wait(), 1)
    assert ended == ["streams"]
    lifecycle.begin_drain(lambda: ended.append("again"))  # a second drain does nothing
    await lifecycle.close()
    assert ended == ["streams"]


@pytest.mark.asyncio
async def test_close_cancels_a_drain_in_progress() -> None:
    lifecycle = Lifecycle(drain_grace_seconds=30)
    lifecycle.start()
    called: list[bool] = []
    lifecycle.begin_drain(lambda: called.append(True))
    await asyncio.wait_for(lifecycle.close(), 1)
    assert lifecycle.stopping.is_set() and not called


def test_ended_needs_a_terminal_phase_of_the_current_generation_and_no_pending_action() -> None:
    assert records.from_body(factories.release(phase="Succeeded")).ended
    assert not records.from_body(factories.release(phase="Verifying")).ended
    assert not records.from_body(
        factories.release(phase="Succeeded", generation=3, observed_generation=2)
    ).ended
    assert not records.from_body(
        factories.release(phase="Succeeded", annotations={"greenlight.dev/rollback-to": "1"})
    ).ended


def test_a_record_of_garbage_does_not_raise() -> None:
    record = records.from_body({"metadata": {"name": "x"}, "spec": 5, "status": {"phase": 7}})
    assert record.spec is None and record.spec_error
    assert record.status_error.startswith("status unreadable")
    assert record.summary.phase.value == "Pending"
    assert record.detail().actions.promote.allowed is False
