"""Waiting on conditions instead of sleeping: ``wait_for(predicate, timeout)``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    *,
    interval: float = 0.005,
    message: str | None = None,
) -> T:
    """Poll ``predicate`` until it returns a truthy value; return that value.

    Raises ``TimeoutError`` (with ``message`` or the predicate's name) after ``timeout``
    seconds. Exceptions from the predicate propagate at once. The poll interval starts at
    ``interval`` and doubles up to 50 ms, so short waits stay short.
    """
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise TimeoutError(f"Condition not met within {timeout} s: {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
