"""Merge, JSON and strategic-merge patches, and which resources accept which."""

from __future__ import annotations

from typing import Any

import kubernetes.client
import pytest

from greenlight_sandbox.emulator import ApiError, EmulatedCluster
from greenlight_sandbox.emulator.patching import json_patch, merge_patch, strategic_merge_patch
from tests.emulator.builders import (
    CONFIGMAPS,
    DEPLOYMENTS,
    RELEASE_CRD,
    RELEASES,
    configmap,
    deployment,
    release,
)

JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def test_merge_patch_semantics() -> None:
    target = {"a": {"b": 1, "c": 2}, "list": [1, 2], "gone": 1}
    patched = merge_patch(target, {"a": {"b": 9}, "list": [3], "gone": None})
    assert patched == {"a": {"b": 9, "c": 2}, "list": [3]}
    assert target["a"] == {"b": 1, "c": 2}  # inputs are not mutated


def test_json_patch_operations() -> None:
    doc: dict[str, Any] = {"a": [1, 2], "b": {"c": 1}}
    ops = [
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "replace", "path": "/b/c", "value": 2},
        {"op": "copy", "from": "/b", "path": "/d"},
        {"op": "move", "from": "/d/c", "path": "/e"},
        {"op": "remove", "path": "/a/0"},
        {"op": "test", "path": "/e", "value": 2},
        {"op": "add", "path": "/x~1y", "value": True},
    ]
    assert json_patch(doc, ops) == {"a": [2, 3], "b": {"c": 2}, "d": {}, "e": 2, "x/y": True}


def test_failed_json_patch_test_is_422(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a", k="v"))
    ops = [{"op": "test", "path": "/data/k", "value": "other"}, {"op": "remove", "path": "/data"}]
    with pytest.raises(ApiError) as err:
        kube_cluster.patch(*CONFIGMAPS, "default", "a", ops, content_type=JSON_PATCH)
    assert err.value.code == 422
    stored = kube_cluster.get(*CONFIGMAPS, "default", "a")
    assert stored is not None and stored["data"] == {"k": "v"}


def test_json_patch_on_a_missing_path_is_422(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    ops = [{"op": "replace", "path": "/spec/nothing", "value": 1}]
    with pytest.raises(ApiError) as err:
        kube_cluster.patch(*CONFIGMAPS, "default", "a", ops, content_type=JSON_PATCH)
    assert err.value.code == 422


def test_strategic_merge_of_named_lists() -> None:
    target = {
        "containers": [
            {
                "name": "web",
                "image": "web:1",
                "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 80, "name": "http"}],
            },
            {"name": "sidecar", "image": "proxy:1"},
        ]
    }
    patch = {
        "containers": [
            {
                "name": "web",
                "image": "web:2",
                "env": [{"name": "B", "value": "2"}],
                "ports": [{"containerPort": 9090, "name": "metrics"}],
            },
            {"name": "new", "image": "new:1"},
            {"name": "sidecar", "$patch": "delete"},
        ],
        "$setElementOrder/containers": [{"name": "web"}, {"name": "new"}],
    }
    assert strategic_merge_patch(target, patch) == {
        "containers": [
            {
                "name": "web",
                "image": "web:2",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 9090, "name": "metrics"},
                ],
            },
            {"name": "new", "image": "new:1"},
        ]
    }


def test_strategic_merge_of_plain_lists_replaces_and_finalizers_merge() -> None:
    target = {"args": ["a", "b"], "metadata": {"finalizers": ["x"]}}
    patch = {"args": ["c"], "metadata": {"finalizers": ["y", "x"]}}
    assert strategic_merge_patch(target, patch) == {
        "args": ["c"],
        "metadata": {"finalizers": ["x", "y"]},
    }


def test_strategic_merge_patch_from_the_kubernetes_client(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(deployment("web"))
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "web", "env": [{"name": "COLOR", "value": "blue"}]}]
                }
            }
        }
    }
    with kube_cluster.api_client() as api:
        kubernetes.client.AppsV1Api(api).patch_namespaced_deployment("web", "default", patch)
    assert kube_cluster.requests[-1].method == "PATCH"
    stored = kube_cluster.get(*DEPLOYMENTS, "default", "web")
    assert stored is not None
    (container,) = stored["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com/web:1.0.0"  # kept: merged by name
    assert container["env"] == [{"name": "COLOR", "value": "blue"}]


def test_strategic_merge_patch_is_refused_for_custom_resources(
    kube_cluster: EmulatedCluster,
) -> None:
    kube_cluster.apply_crd(RELEASE_CRD)
    kube_cluster.create(release("web"))
    with pytest.raises(ApiError) as err:
        kube_cluster.patch(*RELEASES, "default", "web", {"spec": {}}, content_type=STRATEGIC)
    assert err.value.code == 415
    with kube_cluster.api_client() as api:  # the client sends merge patches for custom objects
        kubernetes.client.CustomObjectsApi(api).patch_namespaced_custom_object(
            "greenlight.dev", "v1alpha1", "default", "releases", "web", {"spec": {"replicas": 5}}
        )
    stored = kube_cluster.get(*RELEASES, "default", "web")
    assert stored is not None and stored["spec"]["replicas"] == 5


def test_json_patch_through_the_kubernetes_client(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(deployment("web", replicas=1))
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
    ]
    with kube_cluster.api_client() as api:
        result = kubernetes.client.AppsV1Api(api).patch_namespaced_deployment("web", "default", ops)
    assert result.spec.replicas == 3
