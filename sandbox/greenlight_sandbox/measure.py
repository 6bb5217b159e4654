"""Switch and rollback latency from the requests the operator made to the sandbox's API server.

Pure functions over :class:`~greenlight_sandbox.emulator.RecordedRequest` lists. A traffic move
is a successful PATCH of the active Service (the operator writes that Service only to move
traffic, or to repair it); its cause is the last gate probe answered before it, through the API
server's service proxy: on the preview Service for a switch, on the active Service for a switch
back. Latency is the time from that answer (the decision's input) to the PATCH arriving.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from greenlight_sandbox.emulator import RecordedRequest, proxy
from greenlight_sandbox.report import percentile


@dataclasses.dataclass(frozen=True)
class Move:
    patched: float  # monotonic time the PATCH of the active Service arrived
    cause: float | None  # monotonic time the probe that decided it was answered

    @property
    def latency_ms(self) -> float | None:
        return None if self.cause is None else (self.patched - self.cause) * 1000.0


def _service_path(namespace: str, service: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{service}"


def probes(records: Iterable[RecordedRequest], namespace: str, service: str) -> list[float]:
    """When each answered GET through ``service``'s API server proxy was answered."""
    return sorted(
        record.answered
        for record in records
        if record.method == "GET"
        and record.answered > 0
        and _proxied_to(record, namespace, service)
    )


def _proxied_to(record: RecordedRequest, namespace: str, service: str) -> bool:
    target = proxy.parse(record.path, "")  # the API server's own reading of a proxy path
    return target is not None and (target.namespace, target.service) == (namespace, service)


def service_patches(
    records: Iterable[RecordedRequest], namespace: str, service: str
) -> list[float]:
    path = _service_path(namespace, service)
    return sorted(
        record.time
        for record in records
        if record.method == "PATCH" and record.path == path and 200 <= record.status < 300
    )


def moves(
    records: Sequence[RecordedRequest],
    namespace: str,
    *,
    active: str,
    preview: str,
    since: float = 0.0,
    until: float = float("inf"),
) -> list[Move]:
    """Every move of traffic in [since, until), with the probe answer that caused it."""
    answers = probes(records, namespace, active) + probes(records, namespace, preview)
    result = []
    for patched in service_patches(records, namespace, active):
        if not since <= patched < until:
            continue
        earlier = [answered for answered in answers if since <= answered <= patched]
        result.append(Move(patched, max(earlier) if earlier else None))
    return result


def summary_ms(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p99 and the count of ``values`` (milliseconds), rounded for a report."""
    if not values:
        return {"p50": None, "p99": None, "count": 0}
    return {
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "count": len(values),
    }
