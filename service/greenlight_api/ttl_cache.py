"""A small time-to-live cache of async computations, with one computation per key at a time.

Concurrent callers asking for the same key while it is being computed wait for that one
computation instead of starting their own (so a burst of requests with a new token makes one
TokenReview, not fifty). Failures are not cached.

The computation is a task of the cache's own, which every caller awaits through
`asyncio.shield`: a caller that is cancelled (its client went away) stops waiting, but the
computation goes on for the others, and its value is still cached.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    def __init__(
        self,
        *,
        seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._clock = clock
        self._values: collections.OrderedDict[Hashable, tuple[float, V]] = collections.OrderedDict()
        self._computing: dict[Hashable, asyncio.Task[V]] = {}

    def peek(self, key: Hashable) -> V | None:
        found = self._values.get(key)
        if found is None:
            return None
        expires, value = found
        if expires <= self._clock():
            del self._values[key]
            return None
        return value

    def computing(self, key: Hashable) -> bool:
        """Whether a computation for `key` is under way."""
        return key in self._computing

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """The value for `key`, and whether it came from the cache (or another's computation)."""
        value = self.peek(key)
        if value is not None:
            return value, True
        task = self._computing.get(key)
        if task is not None:
            return await asyncio.shield(task), True
        task = asyncio.ensure_future(self._compute(key, compute))
        self._computing[key] = task
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task), False

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await compute()
        finally:
            if self._computing.get(key) is asyncio.current_task():
                del self._computing[key]
        if self.seconds > 0:
            self._values[key] = (self._clock() + self.seconds, value)
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)
        return value


def _retrieve(task: asyncio.Task[object]) -> None:
    """Mark a failure as seen: no "exception was never retrieved" if every caller has left."""
    if not task.cancelled():
        task.exception()
