"""Injected faults: the next N matching requests fail with a status or are held back.

Rules are matched in the order they were added, by HTTP method (or any) and by a regular
expression searched in the URL path (without the query string). A matched rule is used up
after ``count`` requests. Faults apply to the system under test only, never to the
emulator's own harness requests (see :mod:`greenlight_sandbox.emulator.cluster`).
"""

from __future__ import annotations

import dataclasses
import re
import threading


@dataclasses.dataclass
class FaultRule:
    method: str | None
    path_regex: re.Pattern[str]
    status: int | None  # None: no error, the request is only delayed
    remaining: int
    delay: float = 0.0
    retry_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_regex.search(path) is not None


class Faults:
    """The pending fault rules; safe to change from any thread."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        """Use up one request of the first matching rule, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(method, path):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    @property
    def pending(self) -> int:
        """How many injected faults have not been used yet."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)
