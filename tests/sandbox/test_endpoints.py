"""The EndpointSlice controller, against a real emulated API server and hand-made Pods."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenlight_sandbox.addresses import POD_NETWORK, AddressPool
from greenlight_sandbox.emulator import EmulatedCluster
from greenlight_sandbox.endpoints import MANAGED_BY, EndpointSliceController
from tests.sandbox.pods import (
    PODS,
    SERVICES,
    SLICES,
    create_pod,
    endpoints_of,
    random_pool,
    release,
    service,
    set_ready,
    slices_of,
    terminate,
)

READY = {"ready": True, "serving": True, "terminating": False}
NOT_READY = {"ready": False, "serving": False, "terminating": False}
TERMINATING = {"ready": False, "serving": True, "terminating": True}


@pytest.fixture()
def ips() -> AddressPool:
    return random_pool(POD_NETWORK)


@pytest.fixture()
def controller(kube_cluster: EmulatedCluster) -> Iterator[EndpointSliceController]:
    with EndpointSliceController(kube_cluster).start() as controller:
        yield controller
        assert controller.errors == []


def test_a_slice_lists_the_selected_pods_with_an_ip(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    web = kube_cluster.create(service("web", {"app": "web"}))
    first = create_pod(kube_cluster, "web-1", {"app": "web"}, ips.allocate())
    create_pod(kube_cluster, "web-2", {"app": "web"}, ips.allocate(), ready=False)
    create_pod(kube_cluster, "web-pending", {"app": "web"}, None)
    create_pod(kube_cluster, "other", {"app": "other"}, ips.allocate())
    controller.wait_idle()

    (item,) = slices_of(kube_cluster, "web")
    assert item["addressType"] == "IPv4"
    assert item["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == MANAGED_BY
    (owner,) = item["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "Service",
        "web",
        web["metadata"]["uid"],
    )
    assert owner["controller"] is True
    assert item["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert [e["targetRef"]["name"] for e in item["endpoints"]] == ["web-1", "web-2"]
    endpoint = item["endpoints"][0]
    assert endpoint == {
        "addresses": [first["status"]["podIP"]],
        "conditions": READY,
        "targetRef": {
            "kind": "Pod",
            "name": "web-1",
            "namespace": "default",
            "uid": first["metadata"]["uid"],
        },
        "nodeName": "sandbox",
    }
    assert item["endpoints"][1]["conditions"] == NOT_READY


def test_readiness_flips_change_the_conditions(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    kube_cluster.create(service("web", {"app": "web"}))
    create_pod(kube_cluster, "web-1", {"app": "web"}, ips.allocate())
    controller.wait_idle()
    assert endpoints_of(kube_cluster, "web") == {"web-1": READY}
    set_ready(kube_cluster, "web-1", False)
    controller.wait_idle()
    assert endpoints_of(kube_cluster, "web") == {"web-1": NOT_READY}
    set_ready(kube_cluster, "web-1", True)
    controller.wait_idle()
    assert endpoints_of(kube_cluster, "web") == {"web-1": READY}


def test_a_terminating_pod_is_serving_and_terminating_but_not_ready(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    kube_cluster.create(service("web", {"app": "web"}))
    create_pod(kube_cluster, "web-1", {"app": "web"}, ips.allocate())
    create_pod(kube_cluster, "web-2", {"app": "web"}, ips.allocate())
    terminate(kube_cluster, "web-1")
    controller.wait_idle()
    assert endpoints_of(kube_cluster, "web") == {"web-1": TERMINATING, "web-2": READY}
    set_ready(kube_cluster, "web-1", False)  # its process stops answering its probe
    controller.wait_idle()
    assert endpoints_of(kube_cluster, "web")["web-1"] == {**TERMINATING, "serving": False}
    release(kube_cluster, "web-1")  # the pod is gone for good
    controller.wait_idle()
    assert endpoints_of(kube_cluster, "web") == {"web-2": READY}


def test_a_selector_change_moves_the_slice(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    kube_cluster.create(service("web", {"app": "web", "color": "blue"}))
    for color in ("blue", "green"):
        for index in (1, 2):
            labels = {"app": "web", "color": color}
            create_pod(kube_cluster, f"web-{color}-{index}", labels, ips.allocate())
    controller.wait_idle()
    assert set(endpoints_of(kube_cluster, "web")) == {"web-blue-1", "web-blue-2"}
    (before,) = slices_of(kube_cluster, "web")

    patch = {"spec": {"selector": {"app": "web", "color": "green"}}}
    kube_cluster.patch(*SERVICES, "default", "web", patch)
    controller.wait_idle()
    (after,) = slices_of(kube_cluster, "web")
    assert after["metadata"]["name"] == before["metadata"]["name"]  # the same slice, rewritten
    assert set(endpoints_of(kube_cluster, "web")) == {"web-green-1", "web-green-2"}


def test_a_pod_whose_labels_change_leaves_the_slice(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    kube_cluster.create(service("web", {"app": "web"}))
    create_pod(kube_cluster, "web-1", {"app": "web"}, ips.allocate())
    controller.wait_idle()
    kube_cluster.patch(*PODS, "default", "web-1", {"metadata": {"labels": {"app": "debug"}}})
    controller.wait_idle()
    (item,) = slices_of(kube_cluster, "web")
    assert item["endpoints"] == []  # the placeholder stays


def test_named_target_ports_resolve_per_pod(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    ports = [
        {"name": "http", "port": 80, "targetPort": "web"},
        {"name": "metrics", "port": 9090, "targetPort": 9100},
    ]
    kube_cluster.create(service("web", {"app": "web"}, ports=ports))
    create_pod(kube_cluster, "old", {"app": "web"}, ips.allocate(), ports={"web": 8080})
    create_pod(kube_cluster, "new", {"app": "web"}, ips.allocate(), ports={"web": 8081})
    create_pod(kube_cluster, "odd", {"app": "web"}, ips.allocate(), ports={"other": 7000})
    controller.wait_idle()

    by_ports = {
        tuple(p["port"] for p in item["ports"]): [e["targetRef"]["name"] for e in item["endpoints"]]
        for item in slices_of(kube_cluster, "web")
    }
    # Pods that map the named port differently are in different slices, as in Kubernetes;
    # a pod without the named port gets only the numbered one.
    assert by_ports == {(8080, 9100): ["old"], (8081, 9100): ["new"], (9100,): ["odd"]}
    named = {item["ports"][0]["port"]: item["ports"][0] for item in slices_of(kube_cluster, "web")}
    assert named[8080] == {"name": "http", "port": 8080, "protocol": "TCP"}

    for name in ("new", "odd"):
        terminate(kube_cluster, name)
        release(kube_cluster, name)
    controller.wait_idle()
    (left,) = slices_of(kube_cluster, "web")  # the slices of mappings no pod has are removed
    assert [e["targetRef"]["name"] for e in left["endpoints"]] == ["old"]


def test_slices_are_written_only_when_they_change(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    kube_cluster.create(service("web", {"app": "web"}))
    create_pod(kube_cluster, "web-1", {"app": "web"}, ips.allocate())
    controller.wait_idle()
    (item,) = slices_of(kube_cluster, "web")
    name = item["metadata"]["name"]
    versions = len(kube_cluster.history(*SLICES, "default", name))
    # Changes that do not touch the endpoints: an annotation, a Service label-less patch.
    kube_cluster.patch(*PODS, "default", "web-1", {"metadata": {"annotations": {"a": "b"}}})
    kube_cluster.patch(*SERVICES, "default", "web", {"metadata": {"annotations": {"c": "d"}}})
    controller.wait_idle()
    assert len(kube_cluster.history(*SLICES, "default", name)) == versions
    set_ready(kube_cluster, "web-1", False)
    controller.wait_idle()
    assert len(kube_cluster.history(*SLICES, "default", name)) == versions + 1


def test_the_slice_goes_with_the_service_and_comes_back_when_removed(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    kube_cluster.create(service("web", {"app": "web"}))
    create_pod(kube_cluster, "web-1", {"app": "web"}, ips.allocate())
    controller.wait_idle()
    (item,) = slices_of(kube_cluster, "web")
    kube_cluster.delete(*SLICES, "default", item["metadata"]["name"])  # someone else removes it
    controller.wait_idle()
    assert set(endpoints_of(kube_cluster, "web")) == {"web-1"}

    kube_cluster.delete(*SERVICES, "default", "web")
    controller.wait_idle()
    assert slices_of(kube_cluster, "web") == []


def test_services_without_a_selector_are_left_alone(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    obj = service("external", {})
    del obj["spec"]["selector"]
    kube_cluster.create(obj)
    create_pod(kube_cluster, "web-1", {"app": "web"}, ips.allocate())
    controller.wait_idle()
    assert slices_of(kube_cluster, "external") == []


def test_publish_not_ready_addresses_makes_every_endpoint_ready(
    kube_cluster: EmulatedCluster, controller: EndpointSliceController, ips: AddressPool
) -> None:
    obj = service("peers", {"app": "db"})
    obj["spec"]["publishNotReadyAddresses"] = True
    kube_cluster.create(obj)
    create_pod(kube_cluster, "db-0", {"app": "db"}, ips.allocate(), ready=False)
    controller.wait_idle()
    assert endpoints_of(kube_cluster, "peers") == {"db-0": {**NOT_READY, "ready": True}}


def test_what_exists_before_the_controller_starts_is_synced(
    kube_cluster: EmulatedCluster, ips: AddressPool
) -> None:
    kube_cluster.create(service("web", {"app": "web"}))
    kube_cluster.create(service("api", {"app": "api"}, namespace="shop"))
    create_pod(kube_cluster, "web-1", {"app": "web"}, ips.allocate())
    create_pod(kube_cluster, "api-1", {"app": "api"}, ips.allocate(), namespace="shop")
    with EndpointSliceController(kube_cluster).start() as controller:
        controller.wait_idle()
        assert endpoints_of(kube_cluster, "web") == {"web-1": READY}
        (item,) = slices_of(kube_cluster, "api", "shop")
        assert [e["targetRef"]["name"] for e in item["endpoints"]] == ["api-1"]
        assert controller.errors == []
