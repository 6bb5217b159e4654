"""The uninstall hook's work against the emulated cluster: the operator stopped first, then its
finalizer (and no other) released from every Release it may see, deleted ones going at once."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from greenlight import models, uninstall
from greenlight.kube import finalizers
from greenlight.kube.common import Kube
from greenlight_sandbox.emulator import EmulatedCluster
from tests.kube.conftest import SETTINGS
from tests.kube.factories import RELEASES, release_body

OTHER = "example.com/keep-me"
SELECTOR = "app.kubernetes.io/component=operator"


@pytest.fixture()
def kube(api_client: Any) -> Kube:
    return Kube(api_client, SETTINGS, sleep=lambda _: None)


def _release(cluster: EmulatedCluster, name: str, namespace: str, *marks: str) -> None:
    body = release_body(name, namespace)
    body["metadata"]["finalizers"] = list(marks)
    cluster.create(body)


def _finalizers_of(cluster: EmulatedCluster, namespace: str, name: str) -> list[str] | None:
    found = cluster.get(*RELEASES, namespace, name)
    return None if found is None else list(found["metadata"].get("finalizers") or [])


def _operator(cluster: EmulatedCluster, pods: int) -> None:
    labels = {"app.kubernetes.io/component": "operator"}
    cluster.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "greenlight-operator", "namespace": "greenlight-system"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "operator", "image": "operator:1"}]},
                },
            },
        }
    )
    for index in range(pods):
        cluster.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"greenlight-operator-{index}",
                    "namespace": "greenlight-system",
                    "labels": labels,
                },
                "spec": {"containers": [{"name": "operator", "image": "operator:1"}]},
            }
        )


def test_only_the_operators_finalizer_goes_from_every_release(
    cluster: EmulatedCluster, kube: Kube
) -> None:
    _release(cluster, "web", "shop", models.FINALIZER, OTHER)
    _release(cluster, "api", "greenlight-system", models.FINALIZER)
    _release(cluster, "plain", "shop", OTHER)

    released = finalizers.release_finalizers(kube, [None])

    assert sorted(released) == ["greenlight-system/api", "shop/web"]
    assert _finalizers_of(cluster, "shop", "web") == [OTHER]
    assert _finalizers_of(cluster, "greenlight-system", "api") == []
    assert _finalizers_of(cluster, "shop", "plain") == [OTHER]


def test_watched_namespaces_limit_what_is_released(cluster: EmulatedCluster, kube: Kube) -> None:
    _release(cluster, "web", "shop", models.FINALIZER)
    _release(cluster, "web", "elsewhere", models.FINALIZER)

    assert finalizers.release_finalizers(kube, ["shop"]) == ["shop/web"]
    assert _finalizers_of(cluster, "elsewhere", "web") == [models.FINALIZER]


def test_a_release_being_deleted_goes_once_released(cluster: EmulatedCluster, kube: Kube) -> None:
    _release(cluster, "api", "greenlight-system", models.FINALIZER)
    cluster.delete(*RELEASES, "greenlight-system", "api")
    assert _finalizers_of(cluster, "greenlight-system", "api") == [models.FINALIZER]

    finalizers.release_finalizers(kube, [None])

    assert _finalizers_of(cluster, "greenlight-system", "api") is None


def test_a_finalizer_added_meanwhile_is_kept(cluster: EmulatedCluster, api_client: Any) -> None:
    """The list changes between the read and the patch: the patch's test fails, the list is
    read again, and the finalizer added meanwhile survives."""
    _release(cluster, "web", "shop", models.FINALIZER)

    class Racing(Kube):
        raced = False

        def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            if method == "PATCH" and not self.raced:
                self.raced = True
                cluster.patch(
                    *RELEASES,
                    "shop",
                    "web",
                    {"metadata": {"finalizers": [models.FINALIZER, OTHER]}},
                )
            return super().request(method, path, **kwargs)

    racing = Racing(api_client, SETTINGS, sleep=lambda _: None)
    assert finalizers.release_finalizers(racing, [None]) == ["shop/web"]
    assert racing.raced
    assert _finalizers_of(cluster, "shop", "web") == [OTHER]


def test_the_operator_is_scaled_down_and_its_pods_awaited(
    cluster: EmulatedCluster, kube: Kube
) -> None:
    _operator(cluster, pods=2)
    polls: list[float] = []

    def pod_exits(seconds: float) -> None:
        # The kubelet's part: one pod goes per poll.
        polls.append(seconds)
        left = cluster.list("v1", "pods", "greenlight-system", label_selector=SELECTOR)
        cluster.delete("v1", "pods", "greenlight-system", left[0]["metadata"]["name"])

    finalizers.stop_operator(
        kube,
        namespace="greenlight-system",
        deployment="greenlight-operator",
        selector=SELECTOR,
        timeout=60,
        sleep=pod_exits,
    )

    deployment = cluster.get("apps/v1", "deployments", "greenlight-system", "greenlight-operator")
    assert deployment is not None and deployment["spec"]["replicas"] == 0
    assert len(polls) == 2
    assert cluster.list("v1", "pods", "greenlight-system", label_selector=SELECTOR) == []


def test_pods_that_never_stop_fail_the_hook(cluster: EmulatedCluster, kube: Kube) -> None:
    _operator(cluster, pods=1)
    now = [0.0]

    def later(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(finalizers.StillRunning, match="greenlight-operator-0"):
        finalizers.stop_operator(
            kube,
            namespace="greenlight-system",
            deployment="greenlight-operator",
            selector=SELECTOR,
            timeout=5,
            clock=lambda: now[0],
            sleep=later,
        )
    assert now[0] >= 5


def test_the_hook_releases_when_the_operator_is_already_gone(
    cluster: EmulatedCluster, kube: Kube
) -> None:
    """No operator Deployment left (already removed): the hook still releases every Release."""
    _release(cluster, "web", "shop", models.FINALIZER)
    args = argparse.Namespace(
        operator_namespace="greenlight-system",
        operator_deployment="greenlight-operator",
        operator_selector=SELECTOR,
        namespaces=[],
        timeout=5.0,
    )
    assert uninstall.run(kube, args) == 0
    assert _finalizers_of(cluster, "shop", "web") == []
