"""Deletion: finalizers, garbage collection by ownerReferences, namespaces, collections."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import kubernetes.client
import pytest

from greenlight_sandbox.emulator import ApiError, EmulatedCluster
from tests.emulator.builders import (
    CONFIGMAPS,
    DEPLOYMENTS,
    RELEASE_CRD,
    RELEASES,
    configmap,
    deployment,
    release,
)
from tests.emulator.streams import open_watch, summary


def _owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    reference = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    obj["metadata"]["ownerReferences"] = [reference]
    return obj


def test_finalizers_hold_the_object_until_removed(kube_cluster: EmulatedCluster) -> None:
    body = configmap("a")
    body["metadata"]["finalizers"] = ["greenlight.dev/cleanup"]
    kube_cluster.create(body)
    with open_watch(kube_cluster, "/api/v1/namespaces/default/configmaps") as stream:
        kube_cluster.delete(*CONFIGMAPS, "default", "a")
        held = kube_cluster.get(*CONFIGMAPS, "default", "a")
        assert held is not None and held["metadata"]["deletionTimestamp"]
        kube_cluster.delete(*CONFIGMAPS, "default", "a")  # again: nothing changes
        kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"still": "writable"}})
        with pytest.raises(ApiError) as err:
            kube_cluster.patch(
                *CONFIGMAPS, "default", "a", {"metadata": {"finalizers": ["x", "y"]}}
            )
        assert err.value.code == 422  # no new finalizers on a deleting object
        kube_cluster.patch(*CONFIGMAPS, "default", "a", {"metadata": {"finalizers": None}})
        events = stream.take(4)
    assert summary(events) == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]
    assert events[-1]["object"]["metadata"].get("finalizers") is None
    assert kube_cluster.get(*CONFIGMAPS, "default", "a") is None


def test_deleting_an_owner_deletes_its_dependents(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.apply_crd(RELEASE_CRD)
    owner = kube_cluster.create(release("web"))
    blue = kube_cluster.create(_owned_by(deployment("web-blue"), owner))
    kube_cluster.create(_owned_by(configmap("grandchild"), blue))
    kube_cluster.create(configmap("unrelated"))
    held = _owned_by(configmap("held"), owner)
    held["metadata"]["finalizers"] = ["keep"]
    kube_cluster.create(held)
    kube_cluster.delete(*RELEASES, "default", "web")
    assert kube_cluster.get(*DEPLOYMENTS, "default", "web-blue") is None
    assert kube_cluster.get(*CONFIGMAPS, "default", "grandchild") is None
    assert kube_cluster.get(*CONFIGMAPS, "default", "unrelated") is not None
    still = kube_cluster.get(*CONFIGMAPS, "default", "held")
    assert still is not None and still["metadata"]["deletionTimestamp"]


def test_dependents_with_another_living_owner_stay(kube_cluster: EmulatedCluster) -> None:
    first = kube_cluster.create(configmap("first"))
    second = kube_cluster.create(configmap("second"))
    shared = _owned_by(configmap("shared"), first)
    shared["metadata"]["ownerReferences"] += _owned_by(configmap("x"), second)["metadata"][
        "ownerReferences"
    ]
    kube_cluster.create(shared)
    kube_cluster.delete(*CONFIGMAPS, "default", "first")
    stored = kube_cluster.get(*CONFIGMAPS, "default", "shared")
    assert stored is not None
    assert [ref["name"] for ref in stored["metadata"]["ownerReferences"]] == ["second"]


def test_an_owner_held_by_finalizers_keeps_its_dependents(kube_cluster: EmulatedCluster) -> None:
    body = configmap("owner")
    body["metadata"]["finalizers"] = ["keep"]
    owner = kube_cluster.create(body)
    kube_cluster.create(_owned_by(configmap("child"), owner))
    kube_cluster.delete(*CONFIGMAPS, "default", "owner")
    assert kube_cluster.get(*CONFIGMAPS, "default", "child") is not None
    kube_cluster.patch(*CONFIGMAPS, "default", "owner", {"metadata": {"finalizers": []}})
    assert kube_cluster.get(*CONFIGMAPS, "default", "child") is None


def test_deleting_a_namespace_deletes_its_objects(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    kube_cluster.create(configmap("a", "shop"))
    kube_cluster.create(configmap("b", "default"))
    kube_cluster.delete("v1", "namespaces", None, "shop")
    assert kube_cluster.list(*CONFIGMAPS, "shop") == []
    assert kube_cluster.get(*CONFIGMAPS, "default", "b") is not None


def test_delete_through_the_kubernetes_client(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(deployment("web"))
    kube_cluster.create(configmap("a", labels={"app": "web"}))
    kube_cluster.create(configmap("b", labels={"app": "db"}))
    with kube_cluster.api_client() as api:
        status: Any = kubernetes.client.AppsV1Api(api).delete_namespaced_deployment(
            "web", "default"
        )
        core = kubernetes.client.CoreV1Api(api)
        core.delete_collection_namespaced_config_map("default", label_selector="app=web")
    assert status["status"] == "Success" and status["details"]["name"] == "web"  # a dict here
    assert [cm["metadata"]["name"] for cm in kube_cluster.list(*CONFIGMAPS, "default")] == ["b"]


def test_delete_preconditions(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    with kube_cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        options = kubernetes.client.V1DeleteOptions(
            preconditions=kubernetes.client.V1Preconditions(uid="not-the-uid")
        )
        with pytest.raises(kubernetes.client.ApiException) as err:
            core.delete_namespaced_config_map("a", "default", body=options)
    assert err.value.status == 409


def test_deleting_a_missing_object_is_404(kube_cluster: EmulatedCluster) -> None:
    with pytest.raises(ApiError) as err:
        kube_cluster.delete(*CONFIGMAPS, "default", "missing")
    assert err.value.code == 404


def test_delete_collection_across_namespaces(kube_cluster: EmulatedCluster) -> None:
    owner = kube_cluster.create(configmap("a-owner", "one", labels={"gone": "yes"}))
    kube_cluster.create(_owned_by(configmap("b-child", "one", labels={"gone": "yes"}), owner))
    kube_cluster.create(configmap("other", "two", labels={"gone": "yes"}))
    kube_cluster.create(configmap("kept", "two"))
    url = f"{kube_cluster.url}/api/v1/configmaps?labelSelector=gone%3Dyes"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=5) as r:
        assert [i["metadata"]["name"] for i in json.load(r)["items"]] == ["a-owner", "other"]
    assert [cm["metadata"]["name"] for cm in kube_cluster.list(*CONFIGMAPS)] == ["kept"]
