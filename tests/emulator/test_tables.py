"""`kubectl get` columns: the emulator answers Table requests as a real API server does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from typing import Any

import pytest

from greenlight.crd import release_crd
from greenlight_sandbox.emulator.cluster import EmulatedCluster
from tests.component.harness import release

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def pod(name: str, ip: str | None, ready: bool) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"containers": [{"name": "app", "image": "app:1"}], "nodeName": "sandbox"},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 2}],
        },
    }


def get_table(cluster: EmulatedCluster, path: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{cluster.url}{path}", headers={"Accept": TABLE})
    with urllib.request.urlopen(request, timeout=5) as answer:
        body: dict[str, Any] = json.load(answer)
    return body


def running_pod(cluster: EmulatedCluster, name: str, ip: str) -> None:
    """Created, then its status written through /status (create ignores status)."""
    created = cluster.create(pod(name, None, ready=False))
    cluster.replace({**created, "status": pod(name, ip, ready=True)["status"]}, "status")


def test_pods_are_listed_with_readiness_restarts_and_ip(kube_cluster: EmulatedCluster) -> None:
    running_pod(kube_cluster, "web-1", "127.0.1.5")
    table = get_table(kube_cluster, "/api/v1/namespaces/demo/pods")
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert table["kind"] == "Table"
    assert columns == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node"]
    (row,) = table["rows"]
    assert row["cells"][:4] == ["web-1", "1/1", "Running", 2]
    assert row["cells"][5:] == ["127.0.1.5", "sandbox"]
    assert row["object"]["metadata"]["name"] == "web-1"


def test_a_custom_resource_gets_its_printer_columns(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(release_crd())
    body = release()
    kube_cluster.create(body)
    namespace = body["metadata"]["namespace"]
    table = get_table(
        kube_cluster, f"/apis/greenlight.dev/v1alpha1/namespaces/{namespace}/releases"
    )
    crd_columns = release_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        *(c["name"] for c in crd_columns),
    ]
    assert table["rows"][0]["cells"][0] == body["metadata"]["name"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl comes with `make tools`")
def test_kubectl_get_pods_wide_shows_the_pod_ip(kube_cluster: EmulatedCluster) -> None:
    running_pod(kube_cluster, "web-1", "127.0.1.9")
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig_path)}
    done = subprocess.run(
        ["kubectl", "get", "pods", "-n", "demo", "-o", "wide"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    header, line = done.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "READY", "STATUS"]
    assert "127.0.1.9" in line.split()
