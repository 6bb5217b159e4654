"""Graceful pod deletion (opt-in): a running pod stays, marked, until deleted with grace 0."""

from __future__ import annotations

import datetime
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import kubernetes.client
import pytest

from greenlight_sandbox.emulator import ApiError, EmulatedCluster
from tests.emulator.builders import DEPLOYMENTS, deployment
from tests.emulator.streams import open_watch, summary

PODS = ("v1", "pods")


@pytest.fixture()
def graceful_cluster() -> Iterator[EmulatedCluster]:
    with EmulatedCluster(graceful_pod_deletion=True) as cluster:
        yield cluster
        errors = cluster.server_errors
    assert not errors, errors


def pod(name: str, *, node: str | None = "sandbox", grace: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "web:1"}]}
    if node is not None:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _seconds_from_now(timestamp: str) -> float:
    moment = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S%z")
    return (moment - datetime.datetime.now(tz=datetime.UTC)).total_seconds()


def test_without_the_option_a_running_pod_goes_at_once(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(pod("a"))
    kube_cluster.delete(*PODS, "default", "a")
    assert kube_cluster.get(*PODS, "default", "a") is None


def test_a_running_pod_stays_for_its_kubelet_until_deleted_with_grace_0(
    graceful_cluster: EmulatedCluster,
) -> None:
    graceful_cluster.create(pod("a"))
    with open_watch(graceful_cluster, "/api/v1/namespaces/default/pods") as stream:
        graceful_cluster.delete(*PODS, "default", "a")
        held = graceful_cluster.get(*PODS, "default", "a")
        assert held is not None
        assert held["metadata"]["deletionGracePeriodSeconds"] == 30  # the default
        assert 28 <= _seconds_from_now(held["metadata"]["deletionTimestamp"]) <= 31
        # The kubelet's status writes do not remove it, nor does a second plain delete.
        graceful_cluster.patch(*PODS, "default", "a", {"status": {"phase": "Running"}}, "status")
        graceful_cluster.delete(*PODS, "default", "a")
        assert graceful_cluster.get(*PODS, "default", "a") is not None
        graceful_cluster.delete(*PODS, "default", "a", grace_period_seconds=0)
        assert graceful_cluster.get(*PODS, "default", "a") is None
        events = stream.take(4)
    assert summary(events) == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),  # deletionTimestamp set
        ("MODIFIED", "a"),  # status
        ("DELETED", "a"),
    ]


def test_the_grace_period_comes_from_the_request_or_the_pod(
    graceful_cluster: EmulatedCluster,
) -> None:
    graceful_cluster.create(pod("spec", grace=5))
    graceful_cluster.delete(*PODS, "default", "spec")
    held = graceful_cluster.get(*PODS, "default", "spec")
    assert held is not None and held["metadata"]["deletionGracePeriodSeconds"] == 5

    graceful_cluster.create(pod("body", grace=5))
    with graceful_cluster.api_client() as api:  # DeleteOptions in the body, as clients send
        kubernetes.client.CoreV1Api(api).delete_namespaced_pod(
            "body", "default", grace_period_seconds=7
        )
    held = graceful_cluster.get(*PODS, "default", "body")
    assert held is not None and held["metadata"]["deletionGracePeriodSeconds"] == 7

    graceful_cluster.create(pod("query"))  # ?gracePeriodSeconds=, as kubectl may send
    request = urllib.request.Request(
        f"{graceful_cluster.url}/api/v1/namespaces/default/pods/query?gracePeriodSeconds=3",
        method="DELETE",
    )
    with urllib.request.urlopen(request) as response:
        answer = json.loads(response.read())
    assert answer["kind"] == "Pod" and answer["metadata"]["deletionGracePeriodSeconds"] == 3


def test_a_second_deletion_shortens_the_grace_period_but_never_lengthens_it(
    graceful_cluster: EmulatedCluster,
) -> None:
    graceful_cluster.create(pod("a", grace=20))
    graceful_cluster.delete(*PODS, "default", "a")
    graceful_cluster.delete(*PODS, "default", "a", grace_period_seconds=60)
    held = graceful_cluster.get(*PODS, "default", "a")
    assert held is not None and held["metadata"]["deletionGracePeriodSeconds"] == 20
    graceful_cluster.delete(*PODS, "default", "a", grace_period_seconds=2)
    held = graceful_cluster.get(*PODS, "default", "a")
    assert held is not None and held["metadata"]["deletionGracePeriodSeconds"] == 2
    assert _seconds_from_now(held["metadata"]["deletionTimestamp"]) <= 3


def test_a_pod_no_node_runs_or_that_has_ended_goes_at_once(
    graceful_cluster: EmulatedCluster,
) -> None:
    graceful_cluster.create(pod("pending", node=None))
    graceful_cluster.delete(*PODS, "default", "pending")
    assert graceful_cluster.get(*PODS, "default", "pending") is None
    graceful_cluster.create(pod("ended"))
    graceful_cluster.patch(*PODS, "default", "ended", {"status": {"phase": "Succeeded"}}, "status")
    graceful_cluster.delete(*PODS, "default", "ended")
    assert graceful_cluster.get(*PODS, "default", "ended") is None


def test_other_kinds_are_not_affected(graceful_cluster: EmulatedCluster) -> None:
    graceful_cluster.create(deployment("web"))
    graceful_cluster.delete(*DEPLOYMENTS, "default", "web")
    assert graceful_cluster.get(*DEPLOYMENTS, "default", "web") is None


def test_garbage_collection_deletes_pods_gracefully(graceful_cluster: EmulatedCluster) -> None:
    owner = graceful_cluster.create(deployment("web"))
    body = pod("web-1")
    body["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": owner["metadata"]["uid"],
            "controller": True,
        }
    ]
    graceful_cluster.create(body)
    graceful_cluster.delete(*DEPLOYMENTS, "default", "web")
    held = graceful_cluster.get(*PODS, "default", "web-1")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    graceful_cluster.delete(*PODS, "default", "web-1", grace_period_seconds=0)
    assert graceful_cluster.get(*PODS, "default", "web-1") is None


def test_finalizers_outlast_the_grace_period(graceful_cluster: EmulatedCluster) -> None:
    body = pod("a")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    graceful_cluster.create(body)
    graceful_cluster.delete(*PODS, "default", "a")
    graceful_cluster.delete(*PODS, "default", "a", grace_period_seconds=0)
    held = graceful_cluster.get(*PODS, "default", "a")
    assert held is not None and held["metadata"]["deletionGracePeriodSeconds"] == 0
    graceful_cluster.patch(*PODS, "default", "a", {"metadata": {"finalizers": None}})
    assert graceful_cluster.get(*PODS, "default", "a") is None


def test_preconditions_and_bad_grace_periods(graceful_cluster: EmulatedCluster) -> None:
    graceful_cluster.create(pod("a"))
    with pytest.raises(ApiError) as error:
        graceful_cluster.delete(*PODS, "default", "a", preconditions={"uid": "not-its-uid"})
    assert error.value.code == 409
    request = urllib.request.Request(
        f"{graceful_cluster.url}/api/v1/namespaces/default/pods/a?gracePeriodSeconds=soon",
        method="DELETE",
    )
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request)
    assert http_error.value.code == 400
    http_error.value.close()
