"""A small time-to-live cache of async computations, with one computation per key at a time.

Concurrent callers asking for the same key while it is being computed wait for that one
computation instead of starting their own (so a burst of requests with a new token makes one
TokenReview, not fifty). Failures are not cached.
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
        self._computing: dict[Hashable, asyncio.Future[V]] = {}

    def peek(self, key: Hashable) -> V | None:
        found = self._values.get(key)
        if found is None:
            return None
        expires, value = found
        if expires <= self._clock():
            del self._values[key]
            return None
        return value

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """The value for `key`, and whether it came from the cache."""
        value = self.peek(key)
        if value is not None:
            return value, True
        running = self._computing.get(key)
        if running is not None:
            return await asyncio.shield(running), True
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._computing[key] = future
        try:
            value = await compute()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning if nobody waits
            raise
        finally:
            del self._computing[key]
        future.set_result(value)
        if self.seconds > 0:
            self._values[key] = (self._clock() + self.seconds, value)
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)
        return value, False
