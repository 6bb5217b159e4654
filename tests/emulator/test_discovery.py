"""Discovery: the served resources, their scope, verbs and subresources; CRDs come and go."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from typing import Any

import kubernetes.dynamic
import pytest

from greenlight_sandbox.emulator import EmulatedCluster
from tests.emulator.builders import RELEASE_CRD, RELEASES, release

EXPECTED = {
    "v1": {
        "namespaces": False,
        "pods": True,
        "services": True,
        "endpoints": True,
        "events": True,
        "configmaps": True,
        "serviceaccounts": True,
    },
    "apps/v1": {"deployments": True, "controllerrevisions": True},
    "discovery.k8s.io/v1": {"endpointslices": True},
    "events.k8s.io/v1": {"events": True},
    "coordination.k8s.io/v1": {"leases": True},
    "apiextensions.k8s.io/v1": {"customresourcedefinitions": False},
    "authentication.k8s.io/v1": {"tokenreviews": False},
    "authorization.k8s.io/v1": {"subjectaccessreviews": False},
}


def _get(cluster: EmulatedCluster, path: str) -> Any:
    with urllib.request.urlopen(cluster.url + path, timeout=5) as response:
        return json.loads(response.read())


def _resources(cluster: EmulatedCluster, group_version: str) -> dict[str, dict[str, Any]]:
    prefix = "/api/" if group_version == "v1" else "/apis/"
    document = _get(cluster, prefix + group_version)
    assert document["kind"] == "APIResourceList" and document["groupVersion"] == group_version
    return {r["name"]: r for r in document["resources"]}


def test_core_and_group_discovery(kube_cluster: EmulatedCluster) -> None:
    assert _get(kube_cluster, "/api")["versions"] == ["v1"]
    groups = {g["name"]: g for g in _get(kube_cluster, "/apis")["groups"]}
    for group_version, expected in EXPECTED.items():
        if group_version != "v1":
            group, version = group_version.split("/")
            assert groups[group]["preferredVersion"]["version"] == version
            assert _get(kube_cluster, f"/apis/{group}")["name"] == group
        resources = _resources(kube_cluster, group_version)
        for plural, namespaced in expected.items():
            assert resources[plural]["namespaced"] is namespaced, plural


def test_verbs_and_subresources(kube_cluster: EmulatedCluster) -> None:
    apps = _resources(kube_cluster, "apps/v1")
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(
        apps["deployments"]["verbs"]
    )
    assert apps["deployments/status"]["verbs"] == ["get", "patch", "update"]
    assert apps["deployments"]["shortNames"] == ["deploy"]
    reviews = _resources(kube_cluster, "authentication.k8s.io/v1")
    assert reviews["tokenreviews"]["verbs"] == ["create"]
    assert "services/proxy" in _resources(kube_cluster, "v1")


def test_crds_appear_and_disappear(kube_cluster: EmulatedCluster) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(kube_cluster, "/apis/greenlight.dev/v1alpha1")
    err.value.close()
    assert err.value.code == 404

    crd = kube_cluster.apply_crd(RELEASE_CRD)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    releases = _resources(kube_cluster, "greenlight.dev/v1alpha1")
    assert releases["releases"]["kind"] == "Release" and releases["releases"]["namespaced"]
    assert releases["releases"]["shortNames"] == ["rel"]
    assert "releases/status" in releases
    kube_cluster.create(release("web"))
    kube_cluster.apply_crd(RELEASE_CRD)  # re-applying keeps the objects
    assert kube_cluster.get(*RELEASES, "default", "web") is not None

    kube_cluster.delete(
        "apiextensions.k8s.io/v1", "customresourcedefinitions", None, crd["metadata"]["name"]
    )
    groups = [g["name"] for g in _get(kube_cluster, "/apis")["groups"]]
    assert "greenlight.dev" not in groups
    kube_cluster.apply_crd(RELEASE_CRD)
    assert kube_cluster.list(*RELEASES) == []  # the objects went with their CRD


def test_dynamic_client_discovery(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.apply_crd(RELEASE_CRD)
    kube_cluster.create(release("web"))
    with kube_cluster.api_client() as api:
        dynamic_client: Any = kubernetes.dynamic.DynamicClient
        dynamic = dynamic_client(api)
        releases = dynamic.resources.get(api_version="greenlight.dev/v1alpha1", kind="Release")
        deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
        names = [item.metadata.name for item in releases.get(namespace="default").items]
        assert deployments.namespaced and releases.namespaced
    assert names == ["web"]


def test_version_and_health(kube_cluster: EmulatedCluster) -> None:
    assert _get(kube_cluster, "/version")["major"] == "1"
    with urllib.request.urlopen(kube_cluster.url + "/readyz", timeout=5) as response:
        assert response.read() == b"ok"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_kubectl_discovers_and_works(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.apply_crd(RELEASE_CRD)
    kube_cluster.create(release("web", "shop"))
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig_path)}
    env["HOME"] = str(kube_cluster.kubeconfig_path.parent)  # a private discovery cache

    def kubectl(*args: str) -> str:
        result = subprocess.run(
            ["kubectl", *args], env=env, capture_output=True, text=True, timeout=30, check=True
        )
        return result.stdout

    assert "releases" in kubectl("api-resources", "--api-group=greenlight.dev")
    assert kubectl("get", "rel", "-n", "shop", "-o", "name") == "release.greenlight.dev/web\n"
    kubectl("annotate", "-n", "shop", "rel", "web", "greenlight.dev/promote=true")
    stored = kube_cluster.get(*RELEASES, "shop", "web")
    assert stored is not None
    assert stored["metadata"]["annotations"] == {"greenlight.dev/promote": "true"}
