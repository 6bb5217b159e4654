"""Injected errors and delays."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from greenlight_sandbox.emulator import EmulatedCluster
from tests.emulator.builders import CONFIGMAPS, configmap


def _get(cluster: EmulatedCluster, path: str, timeout: float = 5) -> tuple[int, str, Any]:
    try:
        with urllib.request.urlopen(cluster.url + path, timeout=timeout) as response:
            return response.status, "", json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers.get("Retry-After", ""), json.loads(exc.read())


@pytest.mark.parametrize("status", [409, 429, 500, 503, 504])
def test_injected_errors_have_status_bodies(kube_cluster: EmulatedCluster, status: int) -> None:
    kube_cluster.create(configmap("a"))
    kube_cluster.inject_errors(
        method="GET", path_regex=r"/configmaps/a$", status=status, count=2, retry_after=1
    )
    path = "/api/v1/namespaces/default/configmaps/a"
    for _ in range(2):
        code, retry_after, body = _get(kube_cluster, path)
        assert (code, retry_after) == (status, "1")
        assert body["kind"] == "Status" and body["code"] == status
    assert _get(kube_cluster, path)[2]["metadata"]["name"] == "a"  # used up
    assert [r.status for r in kube_cluster.requests] == [status, status, 200]


def test_the_kubernetes_client_sees_injected_errors(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    kube_cluster.inject_errors(method="GET", path_regex=r"/configmaps/a$", status=409)
    with kube_cluster.api_client() as api, pytest.raises(ApiException) as err:
        kubernetes.client.CoreV1Api(api).read_namespaced_config_map("a", "default")
    assert err.value.status == 409 and json.loads(str(err.value.body))["kind"] == "Status"


def test_faults_match_method_and_path(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    kube_cluster.inject_errors(method="PATCH", path_regex=r"/configmaps/", status=500)
    with kube_cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        core.read_namespaced_config_map("a", "default")  # a GET: not matched
        with pytest.raises(ApiException):
            core.patch_namespaced_config_map("a", "default", {"data": {"k": "v"}})
        core.patch_namespaced_config_map("a", "default", {"data": {"k": "v"}})


def test_faults_do_not_affect_the_harness(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.inject_errors(path_regex=".*", status=500, count=1)
    kube_cluster.create(configmap("a"))
    assert kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"k": "v"}})
    assert kube_cluster.emulator.faults.pending == 1


def test_injected_timeout(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    kube_cluster.inject_timeout(method="GET", path_regex=r"/configmaps/a$", seconds=2)
    path = "/api/v1/namespaces/default/configmaps/a"
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        _get(kube_cluster, path, timeout=0.2)
    assert time.monotonic() - started < 1
    assert _get(kube_cluster, path)[0] == 200  # the next one is served at once


def test_injected_delay_before_an_error(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.inject_errors(path_regex="/configmaps", status=504, delay=0.1)
    started = time.monotonic()
    assert _get(kube_cluster, "/api/v1/configmaps")[0] == 504
    assert time.monotonic() - started >= 0.1
