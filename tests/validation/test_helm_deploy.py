"""scripts/helm-deploy.sh: the CRDs applied server-side first, then one `helm upgrade --install`.

Fake `kubectl` and `helm` (named by the script's KUBECTL and HELM) write each call to a log, so
the order and the number of calls are checked without a cluster.
"""

from __future__ import annotations

import os
import pathlib
import subprocess

from tests.validation import tools

FAKE = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
"""


def _deploy(tmp_path: pathlib.Path, *args: str, **env: str) -> list[str]:
    calls = tmp_path / "calls"
    for name in ("kubectl", "helm"):
        fake = tmp_path / name
        fake.write_text(FAKE)
        fake.chmod(0o755)
    done = subprocess.run(
        ["bash", "scripts/helm-deploy.sh", "greenlight", "greenlight-system", *args],
        cwd=tools.ROOT, capture_output=True, text=True, timeout=30, check=False,
        env={
            **os.environ, "CALLS": str(calls),
            "KUBECTL": str(tmp_path / "kubectl"), "HELM": str(tmp_path / "helm"), **env,
        },
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return calls.read_text().splitlines()


def test_applies_the_crds_then_installs_once(tmp_path: pathlib.Path) -> None:
    calls = _deploy(tmp_path, "--set", "image.tag=abc")
    assert calls[0] == (
        "kubectl apply --server-side --force-conflicts -f charts/greenlight/crds/"
    ), calls
    assert calls[1].startswith("kubectl wait --for condition=established"), calls
    assert calls[1].endswith("crd/releases.greenlight.dev"), calls
    helm = [call for call in calls if call.startswith("helm ")]
    assert len(helm) == 1, "one helm run installs everything"
    assert helm[0].startswith("helm upgrade --install greenlight charts/greenlight")
    assert helm[0].endswith("--set image.tag=abc")
    assert calls[-1] == helm[0]


def test_a_kube_context_applies_to_both(tmp_path: pathlib.Path) -> None:
    calls = _deploy(tmp_path, KUBE_CONTEXT="kind-greenlight")
    assert all(call.startswith("kubectl --context kind-greenlight ") for call in calls[:2])
    assert "--kube-context kind-greenlight" in calls[2]


def test_the_crds_it_applies_are_the_charts(tmp_path: pathlib.Path) -> None:
    assert (tools.CHART / "crds" / "releases.greenlight.dev.yaml").is_file()
