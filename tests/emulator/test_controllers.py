"""The fake Deployment and EndpointSlice controllers, explicit and in the background."""

from __future__ import annotations

import re
import time

import pytest

from greenlight_sandbox.emulator import EmulatedCluster, FakeControllers, wait_for
from tests.emulator.builders import DEPLOYMENTS, SERVICES, deployment, service

BLUE = {"app": "web", "color": "blue"}
GREEN = {"app": "web", "color": "green"}
POD_NAME = re.compile(r"^web-(blue|green)-[0-9a-f]{10}-[a-z0-9]{5}$")


@pytest.fixture()
def controllers(kube_cluster: EmulatedCluster) -> FakeControllers:
    return FakeControllers(kube_cluster)


def test_mark_deployment_ready_and_unready(
    kube_cluster: EmulatedCluster, controllers: FakeControllers
) -> None:
    kube_cluster.create(deployment("web", replicas=3))
    kube_cluster.patch(*DEPLOYMENTS, "default", "web", {"spec": {"replicas": 2}})
    status = controllers.mark_deployment_ready("default", "web")["status"]
    assert status["observedGeneration"] == 2
    assert [
        status[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    ] == [2, 2, 2, 2]
    unready = controllers.mark_deployment_unready("default", "web", ready_replicas=1)["status"]
    assert unready["readyReplicas"] == 1 and unready["unavailableReplicas"] == 1
    available = {c["type"]: c["status"] for c in unready["conditions"]}["Available"]
    assert available == "False"
    stored = kube_cluster.get(*DEPLOYMENTS, "default", "web")
    assert stored is not None and stored["metadata"]["generation"] == 2


def test_endpoints_follow_the_service_selector(
    kube_cluster: EmulatedCluster, controllers: FakeControllers
) -> None:
    kube_cluster.create(deployment("web-blue", labels=BLUE, replicas=2, port=8000))
    kube_cluster.create(deployment("web-green", labels=GREEN, replicas=1))
    kube_cluster.create(service("web", selector=BLUE))
    assert controllers.set_endpoints_for_service("default", "web") is not None
    assert controllers.endpoints_of_service("default", "web") == []  # nothing ready yet

    controllers.mark_deployment_ready("default", "web-blue")
    controllers.mark_deployment_ready("default", "web-green")
    slice_ = controllers.set_endpoints_for_service("default", "web")
    assert slice_ is not None
    assert slice_["metadata"]["name"] == controllers.endpoint_slice_name("web")
    assert re.fullmatch(r"web-[a-z0-9]{5}", slice_["metadata"]["name"])
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert slice_["ports"] == [{"name": "http", "port": 8000, "protocol": "TCP"}]
    pods = [e["targetRef"]["name"] for e in slice_["endpoints"]]
    assert len(pods) == 2 and all(POD_NAME.match(p) and "-blue-" in p for p in pods)
    addresses = [e["addresses"][0] for e in slice_["endpoints"]]
    assert len(set(addresses)) == 2 and all(a.startswith("10.0.") for a in addresses)

    kube_cluster.patch(*SERVICES, "default", "web", {"spec": {"selector": GREEN}})
    controllers.set_endpoints_for_service("default", "web")
    (pod,) = controllers.endpoints_of_service("default", "web")
    assert "-green-" in pod

    kube_cluster.delete(*SERVICES, "default", "web")  # the slice goes with its Service
    assert kube_cluster.list("discovery.k8s.io/v1", "endpointslices", "default") == []


def test_pod_names_change_with_the_template(
    kube_cluster: EmulatedCluster, controllers: FakeControllers
) -> None:
    kube_cluster.create(deployment("web-blue", labels=BLUE))
    kube_cluster.create(service("web", selector=BLUE))
    controllers.mark_deployment_ready("default", "web-blue")
    before = controllers.set_endpoints_for_service("default", "web")
    image = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}}
    kube_cluster.patch(*DEPLOYMENTS, "default", "web-blue", image)
    controllers.mark_deployment_ready("default", "web-blue")
    after = controllers.set_endpoints_for_service("default", "web")
    assert before is not None and after is not None
    assert before["endpoints"][0]["targetRef"] != after["endpoints"][0]["targetRef"]


def test_background_controllers(
    kube_cluster: EmulatedCluster, controllers: FakeControllers
) -> None:
    kube_cluster.create(service("web", selector=BLUE))
    with controllers.run_in_background(lag_seconds=0.2) as background:
        kube_cluster.create(deployment("web-blue", labels=BLUE, replicas=2))
        kube_cluster.create(deployment("web-green", labels=GREEN, replicas=1))
        wait_for(lambda: len(controllers.endpoints_of_service("default", "web")) == 2)
        green = kube_cluster.get(*DEPLOYMENTS, "default", "web-green")
        assert green is not None and green["status"]["readyReplicas"] == 1

        switched_at = time.monotonic()
        kube_cluster.patch(*SERVICES, "default", "web", {"spec": {"selector": GREEN}})
        wait_for(
            lambda: [
                p for p in controllers.endpoints_of_service("default", "web") if "-green-" in p
            ]
        )
        assert time.monotonic() - switched_at >= 0.2  # the propagation lag

        kube_cluster.patch(*DEPLOYMENTS, "default", "web-green", {"spec": {"replicas": 3}})
        wait_for(lambda: len(controllers.endpoints_of_service("default", "web")) == 3)
        background.wait_idle()
        assert background.errors == []
    assert not background.running


def test_background_controllers_end_with_their_cluster() -> None:
    with EmulatedCluster() as cluster:
        background = FakeControllers(cluster).run_in_background()
        assert background.running
    wait_for(lambda: not background.running, timeout=5)
