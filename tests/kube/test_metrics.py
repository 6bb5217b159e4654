"""The operator's metrics: releases by phase from a live map, counters, and `/metrics`."""

from __future__ import annotations

import urllib.request

from greenlight import metrics
from greenlight.models import Phase


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_releases_by_phase_follow_the_map_and_forget_deleted_ones() -> None:
    before = sample("greenlight_releases", phase="Verifying")
    metrics.observe_phase("metrics-test", "a", Phase.VERIFYING)
    metrics.observe_phase("metrics-test", "b", Phase.VERIFYING)
    metrics.observe_phase("metrics-test", "b", Phase.SUCCEEDED)  # moved on: counted once
    assert sample("greenlight_releases", phase="Verifying") == before + 1
    metrics.forget("metrics-test", "a")
    metrics.forget("metrics-test", "never-seen")
    assert sample("greenlight_releases", phase="Verifying") == before
    metrics.forget("metrics-test", "b")
    # Every phase is reported, zeros included, so dashboards never see gaps.
    for phase in Phase:
        assert (
            metrics.REGISTRY.get_sample_value("greenlight_releases", {"phase": str(phase)})
            is not None
        )


def test_counters_and_histogram() -> None:
    forward = sample("greenlight_switches_total", direction="forward")
    back = sample("greenlight_switches_total", direction="back")
    rollbacks = sample("greenlight_rollbacks_total")
    passes = sample("greenlight_gate_probes_total", kind="http", result="pass")
    durations = sample("greenlight_release_duration_seconds_count", outcome="Succeeded")
    metrics.switched(forward=True)
    metrics.switched(forward=False)
    metrics.rolled_back()
    metrics.gate_probed("http", ok=True)
    metrics.release_finished("Succeeded", 42.0)
    assert sample("greenlight_switches_total", direction="forward") == forward + 1
    assert sample("greenlight_switches_total", direction="back") == back + 1
    assert sample("greenlight_rollbacks_total") == rollbacks + 1
    assert sample("greenlight_gate_probes_total", kind="http", result="pass") == passes + 1
    assert sample("greenlight_release_duration_seconds_count", outcome="Succeeded") == durations + 1


def test_metrics_are_served_over_http() -> None:
    metrics.api_error(503)
    server = metrics.start_metrics_server(0, addr="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as page:
            text = page.read().decode()
    finally:
        server.stop()
    assert 'greenlight_api_errors_total{code="503"}' in text
    assert 'greenlight_releases{phase="Pending"}' in text
