"""scripts/helm-uninstall.sh: the operator stopped, its finalizer released from every Release
that has it, and only then `helm uninstall`, so that nothing stays Terminating.

A fake `kubectl` answers the list of Releases and logs every call; a fake `helm` logs its own.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

from tests.validation import tools

RELEASES = {
    "items": [
        {"metadata": {"namespace": "greenlight-system", "name": "greenlight-api",
                      "finalizers": ["greenlight.dev/finalizer"]}},
        {"metadata": {"namespace": "shop", "name": "web",
                      "finalizers": ["other/keep", "greenlight.dev/finalizer"]}},
        {"metadata": {"namespace": "shop", "name": "done"}},
    ]
}  # fmt: skip

FAKE_KUBECTL = """#!/usr/bin/env bash
echo "kubectl $*" >> "$CALLS"
case "$*" in
  *"get releases.greenlight.dev --all-namespaces -o json"*) cat "$RELEASES" ;;
  *"releases.greenlight.dev web -o jsonpath"*)
    printf '%s' '["other/keep","greenlight.dev/finalizer"]' ;;
  *"releases.greenlight.dev greenlight-api -o jsonpath"*)
    printf '%s' '["greenlight.dev/finalizer"]' ;;
esac
"""


def test_stops_the_operator_releases_finalizers_then_uninstalls(tmp_path: pathlib.Path) -> None:
    calls, releases = tmp_path / "calls", tmp_path / "releases.json"
    releases.write_text(json.dumps(RELEASES))
    (tmp_path / "kubectl").write_text(FAKE_KUBECTL)
    (tmp_path / "helm").write_text('#!/usr/bin/env bash\necho "helm $*" >> "$CALLS"\n')
    for name in ("kubectl", "helm"):
        (tmp_path / name).chmod(0o755)
    done = subprocess.run(
        ["bash", "scripts/helm-uninstall.sh", "greenlight", "greenlight-system"],
        cwd=tools.ROOT, capture_output=True, text=True, timeout=30, check=False,
        env={
            **os.environ, "CALLS": str(calls), "RELEASES": str(releases),
            "KUBECTL": str(tmp_path / "kubectl"), "HELM": str(tmp_path / "helm"),
        },
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    log = calls.read_text().splitlines()
    assert log[0].startswith("kubectl -n greenlight-system scale deployment")
    assert "--replicas 0" in log[0]
    assert log[1].startswith("kubectl -n greenlight-system wait pod") and "--for delete" in log[1]
    patches = [line for line in log if " patch " in line]
    assert len(patches) == 2, "the Release without the finalizer is left alone"
    web = next(line for line in patches if "-n shop patch releases.greenlight.dev web" in line)
    assert '"value":["other/keep"]' in web, "other finalizers stay"
    assert '"op":"test"' in web
    api = next(line for line in patches if " greenlight-api " in line)
    assert '"op":"replace","path":"/metadata/finalizers","value":[]' in api
    assert log[-1].startswith("helm uninstall greenlight")
    assert all(" patch " not in line for line in log[log.index(log[-1]) :])
