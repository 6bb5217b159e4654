"""Server-managed metadata: resourceVersion, uid, creationTimestamp, generation."""

from __future__ import annotations

import re
from typing import Any

from greenlight_sandbox.emulator import EmulatedCluster
from tests.emulator.builders import (
    CONFIGMAPS,
    DEPLOYMENTS,
    RELEASE_CRD,
    RELEASES,
    configmap,
    deployment,
    release,
)


def test_resource_version_is_one_global_counter_as_a_string(kube_cluster: EmulatedCluster) -> None:
    first = kube_cluster.create(configmap("a"))
    second = kube_cluster.create(deployment("b"))
    third = kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"k": "v"}})
    versions = [o["metadata"]["resourceVersion"] for o in (first, second, third)]
    assert all(isinstance(v, str) for v in versions)
    assert [int(v) for v in versions] == sorted(int(v) for v in versions)
    assert len(set(versions)) == 3
    assert int(versions[1]) == int(versions[0]) + 1  # shared across resources


def test_uid_and_creation_timestamp_are_set_and_kept(kube_cluster: EmulatedCluster) -> None:
    created = kube_cluster.create(configmap("a"))
    meta = created["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    patched = kube_cluster.patch(
        *CONFIGMAPS, "default", "a", {"metadata": {"uid": "forged", "creationTimestamp": None}}
    )
    assert patched["metadata"]["uid"] == meta["uid"]
    assert patched["metadata"]["creationTimestamp"] == meta["creationTimestamp"]
    other = kube_cluster.create(configmap("b"))
    assert other["metadata"]["uid"] != meta["uid"]


def test_list_carries_the_current_resource_version(kube_cluster: EmulatedCluster) -> None:
    created = kube_cluster.create(configmap("a"))
    with kube_cluster.api_client() as api:
        import kubernetes.client

        listing: Any = kubernetes.client.CoreV1Api(api).list_namespaced_config_map("default")
    assert listing.metadata.resource_version == created["metadata"]["resourceVersion"]


def test_generation_of_a_custom_resource_with_a_status_subresource(
    kube_cluster: EmulatedCluster,
) -> None:
    kube_cluster.apply_crd(RELEASE_CRD)
    assert kube_cluster.create(release("web"))["metadata"]["generation"] == 1
    spec = kube_cluster.patch(*RELEASES, "default", "web", {"spec": {"replicas": 3}})
    assert spec["metadata"]["generation"] == 2
    status = kube_cluster.patch(*RELEASES, "default", "web", {"status": {"phase": "X"}}, "status")
    assert status["metadata"]["generation"] == 2
    labels = kube_cluster.patch(*RELEASES, "default", "web", {"metadata": {"labels": {"a": "b"}}})
    assert labels["metadata"]["generation"] == 2
    assert int(labels["metadata"]["resourceVersion"]) > int(status["metadata"]["resourceVersion"])


def test_generation_of_a_deployment(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(deployment("web"))
    scaled = kube_cluster.patch(*DEPLOYMENTS, "default", "web", {"spec": {"replicas": 2}})
    assert scaled["metadata"]["generation"] == 2
    status = {"status": {"observedGeneration": 2, "readyReplicas": 2}}
    after_status = kube_cluster.patch(*DEPLOYMENTS, "default", "web", status, "status")
    assert after_status["metadata"]["generation"] == 2
    annotated = kube_cluster.patch(
        *DEPLOYMENTS, "default", "web", {"metadata": {"annotations": {"a": "b"}}}
    )
    assert annotated["metadata"]["generation"] == 2


def test_a_write_that_changes_nothing_makes_no_new_version(kube_cluster: EmulatedCluster) -> None:
    created = kube_cluster.create(configmap("a", k="v"))
    same = kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"k": "v"}})
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert len(kube_cluster.history(*CONFIGMAPS, "default", "a")) == 1


def test_history_keeps_every_stored_version(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a", k="1"))
    kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"k": "2"}})
    kube_cluster.delete(*CONFIGMAPS, "default", "a")
    kube_cluster.create(configmap("a", k="3"))
    history = kube_cluster.history(*CONFIGMAPS, "default", "a")
    assert [v["data"]["k"] for v in history] == ["1", "2", "3"]
    assert kube_cluster.history(*CONFIGMAPS, "default", "missing") == []
