"""Switch latency from recorded requests: a move is a PATCH of the active Service, its cause the
last gate probe answered through the API server's proxy before it."""

from __future__ import annotations

from greenlight_sandbox import measure
from greenlight_sandbox.emulator import RecordedRequest

SERVICES = "/api/v1/namespaces/demo/services"


def probe(service: str, answered: float) -> RecordedRequest:
    path = f"{SERVICES}/{service}:8080/proxy/readyz"
    return RecordedRequest("GET", path, {}, 200, answered - 0.001, answered)


def patch(service: str, at: float, status: int = 200) -> RecordedRequest:
    return RecordedRequest("PATCH", f"{SERVICES}/{service}", {}, status, at, at + 0.001)


def test_a_move_is_caused_by_the_last_probe_answered_before_it() -> None:
    records = [
        probe("shop-preview", 1.000),
        probe("shop-preview", 2.000),
        probe("other-preview", 2.010),  # another Service's probe is no cause
        patch("shop", 2.020),
        patch("shop", 3.000, status=409),  # a refused PATCH moved nothing
        probe("shop", 4.000),
        patch("shop", 4.005),
    ]
    moves = measure.moves(records, "demo", active="shop", preview="shop-preview")
    assert [move.patched for move in moves] == [2.020, 4.005]
    latencies = [move.latency_ms for move in moves]
    assert latencies[0] is not None and abs(latencies[0] - 20.0) < 1e-6
    assert latencies[1] is not None and abs(latencies[1] - 5.0) < 1e-6


def test_moves_outside_the_window_are_left_out_and_a_move_without_a_probe_has_no_latency() -> None:
    records = [probe("shop-preview", 1.0), patch("shop", 1.5), patch("shop", 5.0)]
    (move,) = measure.moves(records, "demo", active="shop", preview="shop-preview", since=2.0)
    assert move.patched == 5.0
    assert move.cause is None and move.latency_ms is None
    assert measure.summary_ms([]) == {"p50": None, "p99": None, "count": 0}
