"""The operator's Prometheus metrics, in a registry of their own, and the `/metrics` server.

The handlers report what happened through the small functions below; nothing else in the
operator names a metric. Releases by phase is computed when scraped from a map the handlers keep
current (`observe_phase`, `forget`), so a Release that vanishes cannot leave a stale count.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

import prometheus_client
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from greenlight.models import Phase

REGISTRY = prometheus_client.CollectorRegistry(auto_describe=True)

_PREFIX = "greenlight"


class _PhaseCollector(Collector):
    """`greenlight_releases{phase}`: how many Releases are in each phase, zeros included."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[tuple[str, str], Phase] = {}

    def set(self, namespace: str, name: str, phase: Phase) -> None:
        with self._lock:
            self._phases[(namespace, name)] = phase

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._phases.pop((namespace, name), None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            phases = list(self._phases.values())
        family = GaugeMetricFamily(f"{_PREFIX}_releases", "Releases by phase.", labels=["phase"])
        for phase in Phase:
            family.add_metric([str(phase)], phases.count(phase))
        yield family


_PHASES = _PhaseCollector()
REGISTRY.register(_PHASES)

RELEASE_DURATION = prometheus_client.Histogram(
    f"{_PREFIX}_release_duration_seconds",
    "Time from a revision's release starting to its end, by outcome.",
    labelnames=["outcome"],
    buckets=(5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf")),
    registry=REGISTRY,
)
SWITCHES = prometheus_client.Counter(
    f"{_PREFIX}_switches",
    "Active Service selector changes: forward to a new revision, or back to the stable one.",
    labelnames=["direction"],
    registry=REGISTRY,
)
ROLLBACKS = prometheus_client.Counter(
    f"{_PREFIX}_rollbacks",
    "Releases that ended rolled back to the stable revision.",
    registry=REGISTRY,
)
GATE_PROBES = prometheus_client.Counter(
    f"{_PREFIX}_gate_probes",
    "Gate probes, by gate kind and result (pass or fail).",
    labelnames=["kind", "result"],
    registry=REGISTRY,
)
API_ERRORS = prometheus_client.Counter(
    f"{_PREFIX}_api_errors",
    "Failed Kubernetes API requests, retried or not, by HTTP status (or timeout, connection).",
    labelnames=["code"],
    registry=REGISTRY,
)

NOTIFICATIONS = prometheus_client.Counter(
    f"{_PREFIX}_notifications",
    "Notification deliveries: sent, retried (one failed attempt, tried again), failed (given "
    "up after the retry time).",
    labelnames=["result"],
    registry=REGISTRY,
)


def observe_phase(namespace: str, name: str, phase: Phase) -> None:
    _PHASES.set(namespace, name, phase)


def forget(namespace: str, name: str) -> None:
    _PHASES.forget(namespace, name)


def release_finished(outcome: str, seconds: float) -> None:
    RELEASE_DURATION.labels(outcome=str(outcome)).observe(max(seconds, 0.0))


def switched(*, forward: bool) -> None:
    """Traffic moved: `forward` to the new revision, or back to the stable one."""
    SWITCHES.labels(direction="forward" if forward else "back").inc()


def rolled_back() -> None:
    ROLLBACKS.inc()


def gate_probed(kind: str, *, ok: bool) -> None:
    GATE_PROBES.labels(kind=kind, result="pass" if ok else "fail").inc()


def notification(result: str) -> None:
    NOTIFICATIONS.labels(result=result).inc()


def api_error(code: str | int) -> None:
    API_ERRORS.labels(code=str(code)).inc()


class MetricsServer:
    """A running `/metrics` endpoint; `port` is the bound port (useful when asked for 0)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(port: int, *, addr: str = "0.0.0.0") -> MetricsServer:
    """Serve `REGISTRY` at `http://addr:port/metrics` from a daemon thread.

    Port 0 binds any free port (tests use it); turning metrics off when the setting is 0 is the
    caller's decision.
    """
    server, thread = prometheus_client.start_http_server(port, addr=addr, registry=REGISTRY)
    return MetricsServer(server, thread)
