"""The assembled sandbox: it starts quickly, applies like `kubectl apply`, and stops cleanly."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest

from greenlight_sandbox.cluster import Sandbox, VitalProcessExited


def release_like(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "greenlight/sample:1"}]},
            },
            **data,
        },
    }


def test_apply_replaces_the_spec_so_dropped_fields_go(tmp_path: pathlib.Path) -> None:
    with Sandbox(tmp_path) as sandbox:
        assert sandbox.kubeconfig_path.is_file()
        sandbox.ensure_namespace("demo")
        sandbox.apply(release_like({"minReadySeconds": 5, "paused": True}))
        applied = sandbox.apply(release_like({"minReadySeconds": 5}))
        assert applied["spec"]["minReadySeconds"] == 5
        assert "paused" not in applied["spec"]
        assert sandbox.cluster.get("apps/v1", "deployments", "demo", "web") is not None
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.cluster  # the property raises once stopped


def test_a_vital_process_that_ended_is_reported_with_its_log(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "operator.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "print('No module named apprise'); raise SystemExit(3)"],
            stdout=sink,
        )
    with Sandbox(tmp_path / "sandbox") as sandbox:
        sandbox.depends_on("operator", process, log)
        process.wait(30)
        with pytest.raises(VitalProcessExited, match="operator exited with code 3") as raised:
            sandbox.check_vital()
        assert "No module named apprise" in str(raised.value)
