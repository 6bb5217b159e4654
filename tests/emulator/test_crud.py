"""Create, read, replace, patch conflicts, and the status subresource."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

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


def _raw(cluster: EmulatedCluster, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A request as the system under test would make it (recorded, faults apply)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(cluster.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_generate_name(kube_cluster: EmulatedCluster) -> None:
    body = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "kopf-event-"}}
    names = {kube_cluster.create(body)["metadata"]["name"] for _ in range(5)}
    assert len(names) == 5
    assert all(name.startswith("kopf-event-") and len(name) == 16 for name in names)


def test_a_name_or_generate_name_is_required(kube_cluster: EmulatedCluster) -> None:
    with pytest.raises(ApiError) as err:
        kube_cluster.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert err.value.code == 422


def test_invalid_names_are_refused(kube_cluster: EmulatedCluster) -> None:
    with pytest.raises(ApiError) as err:
        kube_cluster.create(configmap("Not_Valid"))
    assert err.value.code == 422


def test_duplicate_name_is_409_already_exists(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    status, body = _raw(
        kube_cluster, "POST", "/api/v1/namespaces/default/configmaps", configmap("a")
    )
    assert status == 409
    assert body["kind"] == "Status" and body["reason"] == "AlreadyExists"
    assert body["details"]["name"] == "a"
    kube_cluster.create(configmap("a", "other"))  # the same name elsewhere is fine


def test_not_found_is_404_with_a_status_body(kube_cluster: EmulatedCluster) -> None:
    status, body = _raw(kube_cluster, "GET", "/api/v1/namespaces/default/configmaps/nope")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "nope", "group": "", "kind": "configmaps"},
    }
    with kube_cluster.api_client() as api, pytest.raises(ApiException) as err:
        kubernetes.client.AppsV1Api(api).read_namespaced_deployment("nope", "default")
    assert err.value.status == 404
    assert json.loads(str(err.value.body))["reason"] == "NotFound"


def test_put_replaces_and_checks_the_resource_version(kube_cluster: EmulatedCluster) -> None:
    created = kube_cluster.create(configmap("a", old="1"))
    stale = {**created, "data": {"new": "2"}}
    replaced = kube_cluster.replace(stale)
    assert replaced["data"] == {"new": "2"}
    with pytest.raises(ApiError) as err:
        kube_cluster.replace({**stale, "data": {"newer": "3"}})  # the rv of `created` is stale
    assert err.value.code == 409 and err.value.reason == "Conflict"
    unconditional = {**created, "metadata": {"name": "a", "namespace": "default"}}
    assert kube_cluster.replace(unconditional)["data"] == {"old": "1"}


def test_put_through_the_kubernetes_client(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a", k="1"))
    with kube_cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        current = core.read_namespaced_config_map("a", "default")
        current.data = {"k": "2"}
        assert core.replace_namespaced_config_map("a", "default", current).data == {"k": "2"}
        with pytest.raises(ApiException) as err:
            core.replace_namespaced_config_map("a", "default", current)  # now stale
    assert err.value.status == 409


def test_patch_with_a_stale_resource_version_is_409(kube_cluster: EmulatedCluster) -> None:
    created = kube_cluster.create(configmap("a"))
    rv = created["metadata"]["resourceVersion"]
    kube_cluster.patch(*CONFIGMAPS, "default", "a", {"metadata": {"resourceVersion": rv}})
    kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"k": "v"}})
    with pytest.raises(ApiError) as err:
        kube_cluster.patch(
            *CONFIGMAPS, "default", "a", {"metadata": {"resourceVersion": rv}, "data": {"x": "y"}}
        )
    assert err.value.code == 409


def test_status_subresource_isolation(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.apply_crd(RELEASE_CRD)
    created = kube_cluster.create({**release("web"), "status": {"phase": "Forged"}})
    assert "status" not in created  # not written on create

    status = kube_cluster.patch(
        *RELEASES,
        "default",
        "web",
        {"status": {"phase": "Pending"}, "spec": {"replicas": 9}},
        "status",
    )
    assert status["status"] == {"phase": "Pending"} and status["spec"]["replicas"] == 1

    main = kube_cluster.patch(
        *RELEASES, "default", "web", {"status": {"phase": "Forged"}, "spec": {"replicas": 2}}
    )
    assert main["status"] == {"phase": "Pending"} and main["spec"]["replicas"] == 2

    replaced = kube_cluster.replace(
        {**main, "status": {"phase": "Forged"}, "spec": {**main["spec"], "replicas": 3}}
    )
    assert replaced["status"] == {"phase": "Pending"} and replaced["spec"]["replicas"] == 3

    put_status = kube_cluster.replace(
        {**replaced, "status": {"phase": "Done"}, "spec": {}}, "status"
    )
    assert put_status["status"] == {"phase": "Done"} and put_status["spec"]["replicas"] == 3


def test_status_subresource_of_deployments(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(deployment("web"))
    with kube_cluster.api_client() as api:
        apps = kubernetes.client.AppsV1Api(api)
        apps.patch_namespaced_deployment_status("web", "default", {"status": {"readyReplicas": 1}})
        apps.patch_namespaced_deployment("web", "default", {"status": {"readyReplicas": 5}})
        stored: Any = apps.read_namespaced_deployment_status("web", "default")
    assert stored.status.ready_replicas == 1


def test_no_status_subresource_for_configmaps(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    with pytest.raises(ApiError) as err:
        kube_cluster.patch(*CONFIGMAPS, "default", "a", {"status": {}}, "status")
    assert err.value.code == 404


def test_scale_subresource(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(deployment("web", replicas=2))
    with kube_cluster.api_client() as api:
        apps = kubernetes.client.AppsV1Api(api)
        scale: Any = apps.read_namespaced_deployment_scale("web", "default")
        assert scale.spec.replicas == 2
        apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 4}})
    stored = kube_cluster.get(*DEPLOYMENTS, "default", "web")
    assert stored is not None and stored["spec"]["replicas"] == 4
    assert stored["metadata"]["generation"] == 2


def test_cluster_scoped_objects_and_wrong_namespaces(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    namespace = kube_cluster.get("v1", "namespaces", None, "shop")
    assert namespace is not None and namespace["status"] == {"phase": "Active"}
    assert "namespace" not in namespace["metadata"]
    status, _ = _raw(
        kube_cluster, "POST", "/api/v1/namespaces/shop/configmaps", configmap("a", "x")
    )
    assert status == 400
