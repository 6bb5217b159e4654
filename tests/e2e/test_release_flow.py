"""The API service, itself a Release, released blue-green on a real cluster: switched under
load with no failed request, and moved back when a new revision fails, before or after the
switch. The tests run in order and each leaves the Release Succeeded."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import cluster as e2e

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]


def _status(cluster: e2e.Cluster) -> dict[str, Any]:
    status: dict[str, Any] = cluster.release().get("status", {})
    return status


def _gates(cluster: e2e.Cluster) -> list[dict[str, Any]]:
    gates: list[dict[str, Any]] = cluster.release()["spec"].get("gates", [])
    return gates


def _verification_gates(cluster: e2e.Cluster) -> list[dict[str, Any]]:
    gates: list[dict[str, Any]] = cluster.release()["spec"].get("verification", {}).get("gates", [])
    return gates


def _healthy_again(
    cluster: e2e.Cluster, gates: list[dict[str, Any]], verification: list[dict[str, Any]]
) -> None:
    """Puts back the original gates with a fresh template, and waits for it to succeed."""
    cluster.new_revision(gates=gates, verification={"gates": verification})
    assert cluster.wait() == 0


def test_chart_installs_and_the_api_service_is_released(installed: e2e.Cluster) -> None:
    status = _status(installed)
    assert status["phase"] == "Succeeded"
    assert status["activeColor"] in {"blue", "green"}
    assert status["stableRevision"] == status["currentRevision"] >= 1
    crd = e2e.run(e2e.tool("kubectl"), "get", "crd", "releases.greenlight.dev")
    assert crd.returncode == 0
    operator = e2e.run(
        e2e.tool("kubectl"), "-n", installed.settings.namespace, "rollout", "status",
        "deployment/greenlight-operator", "--timeout=60s",
    )  # fmt: skip
    assert operator.returncode == 0


def test_switch_under_load_fails_no_request(installed: e2e.Cluster) -> None:
    before = _status(installed)
    load = installed.start_load()
    try:
        installed.new_revision()
        assert installed.wait() == 0
    finally:
        totals = installed.stop_load(load)
    after = _status(installed)
    assert after["activeColor"] != before["activeColor"]
    assert after["stableRevision"] == before["stableRevision"] + 1
    assert totals["failed"] == 0, totals["errors"]
    assert set(totals["colors"]) == {before["activeColor"], after["activeColor"]}


def test_failing_gate_rolls_back_before_the_switch(installed: e2e.Cluster) -> None:
    before = _status(installed)
    gates, verification = _gates(installed), _verification_gates(installed)
    broken = {
        "name": "broken",
        "http": {"path": "/does-not-exist", "expectStatus": [200]},
        "intervalSeconds": 1,
        "failureThreshold": 2,
    }
    load = installed.start_load()
    try:
        installed.new_revision(gates=[*gates, broken])
        assert installed.wait() == 1, "a failed release makes `greenlight wait` exit 1"
    finally:
        totals = installed.stop_load(load)
    after = _status(installed)
    assert after["phase"] == "RolledBack"
    assert after["activeColor"] == before["activeColor"], "traffic never left the stable colour"
    assert after["stableRevision"] == before["stableRevision"]
    assert totals["failed"] == 0, totals["errors"]
    assert set(totals["colors"]) == {before["activeColor"]}
    _healthy_again(installed, gates, verification)


def test_failing_verification_moves_traffic_back(installed: e2e.Cluster) -> None:
    before = _status(installed)
    gates, verification = _gates(installed), _verification_gates(installed)
    broken = {
        "name": "broken-after-switch",
        "http": {"path": "/does-not-exist", "expectStatus": [200]},
        "intervalSeconds": 1,
        "failureThreshold": 2,
    }
    load = installed.start_load()
    try:
        installed.new_revision(verification={"durationSeconds": 30, "gates": [broken]})
        assert installed.wait() == 1
    finally:
        totals = installed.stop_load(load)
    after = _status(installed)
    assert after["phase"] == "RolledBack"
    assert after["activeColor"] == before["activeColor"], "traffic is back on the stable colour"
    assert after["stableRevision"] == before["stableRevision"]
    assert totals["failed"] == 0, totals["errors"]
    _healthy_again(installed, gates, verification)
