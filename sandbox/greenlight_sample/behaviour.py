"""What the app answers and when: readiness, failing, the injected errors and the drain.

Pure state, no HTTP: the routes ask it, the server flips `draining` on SIGTERM, and tests drive
it with their own clock instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fractions import Fraction

from greenlight_sample.settings import Settings


class Behaviour:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self.started = clock()
        self.draining = False
        # Exact arithmetic: 0.2 must fail every fifth request, not drift with float rounding.
        self._error_rate = Fraction(settings.sample_error_rate).limit_denominator(10_000)
        self._answered = 0

    def uptime(self) -> float:
        return self._clock() - self.started

    def failing(self) -> bool:
        """Past `SAMPLE_FAIL_AFTER_SECONDS`: everything but the metrics answers 500."""
        after = self.settings.sample_fail_after_seconds
        return after is not None and self.uptime() >= after

    def unready_reason(self) -> str | None:
        """Why `/readyz` answers 503, or None when ready (failing is answered apart, 500)."""
        if self.draining:
            return "draining"
        if self.settings.sample_never_ready:
            return "never ready (SAMPLE_NEVER_READY)"
        if self.uptime() < self.settings.sample_startup_seconds:
            return "starting"
        return None

    def next_answer_fails(self) -> bool:
        """Whether the next answer of `/` is an injected error.

        Counter-based, not random: the n-th answer fails when floor(n * rate) steps up, so a
        rate of 0.2 fails answers 5, 10, 15... and any run of 1/rate answers holds one failure.
        """
        self._answered += 1
        n = self._answered
        return math.floor(n * self._error_rate) > math.floor((n - 1) * self._error_rate)
