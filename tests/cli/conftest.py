"""Helpers of the CLI tests: an emulated cluster with the Release CRD, Releases in the states
an operator would leave them in (the tests play the operator by writing status), and the CLI
run in-process, in a thread, or as a real program."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import threading
from typing import Any, Self

import pytest
import yaml
from click.testing import CliRunner, Result

from greenlight.cli.main import cli
from greenlight_sandbox.emulator import EmulatedCluster

API_VERSION = "greenlight.dev/v1alpha1"
CRD = pathlib.Path(__file__).parents[2] / "manifests" / "crds" / "releases.greenlight.dev.yaml"
NAMESPACE = "shop"
IMAGE = "registry.example.com/web:1.4.2"
OLD_IMAGE = "registry.example.com/web:1.4.1"

# A release of revision 2 half-way through its pre-switch gates, revision 1 serving.
VERIFYING: dict[str, Any] = {
    "observedGeneration": 1,
    "phase": "Verifying",
    "activeColor": "blue",
    "previewColor": "green",
    "stableColor": "blue",
    "stableRevision": 1,
    "currentRevision": 2,
    "message": "probing the preview Service web-preview",
    "gates": [
        {
            "name": "readyz",
            "phase": "Running",
            "successes": 2,
            "failures": 0,
            "lastMessage": "HTTP 200 in 4 ms",
            "lastProbeTime": "2024-05-01T12:00:00Z",
        }
    ],
    "conditions": [
        {
            "type": "Available",
            "status": "True",
            "reason": "ActiveServing",
            "message": "blue serves revision 1",
            "lastTransitionTime": "2024-05-01T11:00:00Z",
        }
    ],
    "history": [
        {
            "revision": 2,
            "images": [IMAGE],
            "color": "green",
            "outcome": "InProgress",
            "startedAt": "2024-05-01T11:59:00Z",
        },
        {
            "revision": 1,
            "images": [OLD_IMAGE],
            "color": "blue",
            "outcome": "Succeeded",
            "startedAt": "2024-04-30T09:00:00Z",
            "finishedAt": "2024-04-30T09:03:20Z",
            "reason": "every gate passed",
        },
    ],
}


@pytest.fixture()
def cluster(kube_cluster: EmulatedCluster) -> EmulatedCluster:
    kube_cluster.apply_crd(CRD)
    kube_cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    return kube_cluster


def create_release(
    cluster: EmulatedCluster,
    name: str = "web",
    *,
    namespace: str = NAMESPACE,
    image: str = IMAGE,
    annotations: dict[str, str] | None = None,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Release as `kubectl apply` would create it; with `status`, as the operator left it."""
    created = cluster.create(
        {
            "apiVersion": API_VERSION,
            "kind": "Release",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
            "spec": {
                "replicas": 2,
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": name, "image": image}]},
                },
                "strategy": {"autoPromote": False},
                "gates": [{"name": "readyz", "http": {"path": "/readyz"}, "successThreshold": 3}],
            },
        }
    )
    if status is not None:
        return set_status(cluster, name, namespace=namespace, **status)
    return created


def set_status(
    cluster: EmulatedCluster, name: str = "web", *, namespace: str = NAMESPACE, **fields: Any
) -> dict[str, Any]:
    """What the operator does: a merge patch of the status subresource."""
    return cluster.patch(
        API_VERSION, "releases", namespace, name, {"status": fields}, subresource="status"
    )


def read_release(cluster: EmulatedCluster, name: str = "web") -> dict[str, Any]:
    release = cluster.get(API_VERSION, "releases", NAMESPACE, name)
    assert release is not None
    return release


def run_cli(cluster: EmulatedCluster, *args: str, env: dict[str, str] | None = None) -> Result:
    """The CLI in-process, pointed at the emulated cluster with --kubeconfig."""
    return CliRunner().invoke(cli, ["--kubeconfig", str(cluster.kubeconfig_path), *args], env=env)


def watch_started(cluster: EmulatedCluster, name: str = "web", *, count: int = 1) -> bool:
    """Whether `count` watches of that one Release have been answered (their streams begun)."""
    watches = [
        request
        for request in cluster.requests
        if request.query.get("watch") == "true"
        and request.query.get("fieldSelector") == f"metadata.name={name}"
        and request.status == 200
    ]
    return len(watches) >= count


def release_gets(cluster: EmulatedCluster, name: str = "web") -> int:
    return sum(
        1
        for request in cluster.requests
        if request.method == "GET" and request.path.endswith(f"/releases/{name}")
    )


class CliInThread:
    """The CLI in-process in a background thread, for commands that follow a Release.

    Used as a context manager, which waits for the command to end: give every such command
    a `--timeout`, so that a failing test cannot leave it running.
    """

    def __init__(self, cluster: EmulatedCluster, *args: str) -> None:
        self._cluster = cluster
        self._args = args
        self._result: Result | None = None
        self._thread = threading.Thread(target=self._run, name="greenlight-cli", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join(timeout=30)

    def _run(self) -> None:
        self._result = run_cli(self._cluster, *self._args)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self, timeout: float = 10.0) -> Result:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"greenlight {' '.join(self._args)} did not end"
        assert self._result is not None
        return self._result


def program() -> list[str]:
    """The installed `greenlight` console script, else the module."""
    script = shutil.which("greenlight", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "greenlight.cli"]


def program_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    env["HOME"] = env.get("HOME", "/nonexistent")
    return env


def run_program(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*program(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=program_env(),
        check=False,
    )


def write_kubeconfig(path: pathlib.Path, document: dict[str, Any]) -> pathlib.Path:
    path.write_text(yaml.safe_dump(document))
    return path
