"""What every gate shares: where it probes, what one probe says, and how probes travel.

A gate makes exactly one probe per call and reports one outcome. Thresholds, intervals and the
gate's phase are not a gate's business: `greenlight.rollout.gating` counts outcomes in status,
so a restarted operator continues the count and no result is ever made up.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeTarget:
    """The Service a probe goes to (the preview one before the switch, the active one after)."""

    namespace: str
    service: str
    port: int  # the Service port; a gate may name its own


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeOutcome:
    ok: bool
    message: str  # one line for humans: shown as the gate's `lastMessage`


class Gate(Protocol):
    kind: str  # the spec key that declares it (`http`), for metrics and messages

    async def probe(self, target: ProbeTarget) -> ProbeOutcome: ...


class Transport(Protocol):
    """How an HTTP probe reaches a Service: directly by DNS, or through the API server.

    `get` returns the status code and the first bytes of the body, whatever the status. It
    raises the built-in `TimeoutError` when no answer came within `timeout_seconds` and
    `ConnectionError` (`ConnectionRefusedError` when refused) when no connection was made.
    """

    async def get(
        self, *, namespace: str, service: str, port: int, path: str, timeout_seconds: float
    ) -> tuple[int, str]: ...

    async def aclose(self) -> None: ...
