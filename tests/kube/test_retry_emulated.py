"""Transient API errors injected in the emulated API server are retried; others are not."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from greenlight import models
from greenlight.kube.gateway import ClusterGateway
from greenlight.kube.target import ReleaseTarget
from greenlight.models import Color
from greenlight.rollout import actions as act
from greenlight.settings import OperatorSettings
from greenlight_sandbox.emulator import EmulatedCluster

LIST_DEPLOYMENTS = r"/apis/apps/v1/namespaces/shop/deployments$"
STATUS = r"/releases/web/status$"


def statuses(cluster: EmulatedCluster, path_end: str) -> list[int]:
    return [r.status for r in cluster.requests if r.path.endswith(path_end)]


def test_server_errors_are_retried_until_an_answer(
    gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster, slept: list[float]
) -> None:
    cluster.inject_errors(method="GET", path_regex=LIST_DEPLOYMENTS, status=500, count=2)
    view = gateway.observe(target, want_endpoints=False)
    assert view.colors[Color.BLUE].exists is False
    assert statuses(cluster, "/deployments") == [500, 500, 200]
    assert len(slept) == 2
    assert slept[1] > slept[0]


def test_too_many_requests_waits_as_the_server_asks(
    gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster, slept: list[float]
) -> None:
    cluster.inject_errors(path_regex=r"/services/web$", status=429, retry_after=2)
    gateway.apply(target, act.PointService(role=act.ServiceRole.ACTIVE, color=Color.BLUE))
    assert slept == [2.0]
    assert cluster.get("v1", "services", "shop", "web") is not None


def test_a_conflict_on_a_status_write_is_retried(
    gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster, slept: list[float]
) -> None:
    cluster.inject_errors(method="PATCH", path_regex=STATUS, status=409)
    gateway.write_status(target, {"phase": "Progressing"})
    assert statuses(cluster, "/status") == [409, 200]
    stored = cluster.get("greenlight.dev/v1alpha1", "releases", "shop", "web")
    assert stored is not None and stored["status"]["phase"] == "Progressing"


def test_already_exists_on_create_is_not_retried_but_resolved(
    gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster, slept: list[float]
) -> None:
    # "Already exists" sends the adapter back to reading the object (here gone again, so it
    # is created), never to the blind retry of the same create.
    cluster.inject_errors(method="POST", path_regex=r"/services$", status=409)
    gateway.apply(target, act.PointService(role=act.ServiceRole.ACTIVE, color=Color.BLUE))
    assert slept == []
    assert [(r.method, r.status) for r in cluster.requests] == [
        ("GET", 404),
        ("POST", 409),
        ("GET", 404),
        ("POST", 201),
    ]
    assert cluster.get("v1", "services", "shop", "web") is not None


def test_other_errors_reach_the_caller_at_once(
    gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster, slept: list[float]
) -> None:
    cluster.inject_errors(method="PATCH", path_regex=STATUS, status=403)
    with pytest.raises(ApiException) as raised:
        gateway.write_status(target, {"phase": "Progressing"})
    assert raised.value.status == 403
    assert slept == []


def test_errors_that_outlast_the_retries_reach_the_caller(
    gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster, slept: list[float]
) -> None:
    cluster.inject_errors(method="GET", path_regex=LIST_DEPLOYMENTS, status=503, count=10)
    with pytest.raises(ApiException) as raised:
        gateway.observe(target, want_endpoints=False)
    assert raised.value.status == 503
    assert len(slept) == 3  # the settings of these tests allow three retries


def test_a_request_timeout_is_retried(
    api_client: Any, target: ReleaseTarget, cluster: EmulatedCluster
) -> None:
    settings = OperatorSettings(api_retries=2, api_retry_base_seconds=0.01, api_timeout_seconds=0.2)
    slept: list[float] = []
    gateway = ClusterGateway(api_client, settings, sleep=slept.append)
    cluster.inject_timeout(method="POST", path_regex=r"/events$", seconds=1.0)
    gateway.apply(
        target, act.PostEvent(type=act.EventType.NORMAL, reason="Test", message="slow server")
    )
    assert len(slept) == 1
    # The held request is served late, and its Event may exist too: both are the same Event
    # in substance, which is why Events are named, not generated.
    messages = [e["message"] for e in cluster.list("v1", "events", "shop")]
    assert "slow server" in messages
    assert models.KIND == "Release"
