"""Service cluster IPs from an address pool (opt-in), as a real API server allocates them."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from greenlight_sandbox.addresses import SERVICE_NETWORK, AddressPool
from greenlight_sandbox.emulator import ApiError, EmulatedCluster
from tests.emulator.builders import service

SERVICES = ("v1", "services")


@pytest.fixture()
def pool() -> AddressPool:
    return AddressPool(SERVICE_NETWORK)


@pytest.fixture()
def cluster(pool: AddressPool) -> Iterator[EmulatedCluster]:
    with EmulatedCluster(service_addresses=pool) as cluster:
        yield cluster
        assert cluster.server_errors == []


def _with_cluster_ip(name: str, address: str) -> dict[str, object]:
    obj = service(name)
    obj["spec"]["clusterIP"] = address
    return obj


def test_services_get_addresses_of_the_pool(cluster: EmulatedCluster, pool: AddressPool) -> None:
    first = cluster.create(service("web"))["spec"]
    second = cluster.create(service("api", "shop"))["spec"]
    assert first["clusterIP"] != second["clusterIP"]
    for spec in (first, second):
        assert ipaddress.IPv4Address(spec["clusterIP"]) in pool.network
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        assert spec["clusterIP"] in pool
    stored = cluster.get(*SERVICES, "default", "web")
    assert stored is not None and stored["spec"]["clusterIP"] == first["clusterIP"]


def test_a_free_address_asked_for_is_kept(cluster: EmulatedCluster, pool: AddressPool) -> None:
    spec = cluster.create(_with_cluster_ip("web", "127.1.7.7"))["spec"]
    assert (spec["clusterIP"], spec["clusterIPs"]) == ("127.1.7.7", ["127.1.7.7"])
    assert "127.1.7.7" in pool


def test_a_taken_address_is_refused(cluster: EmulatedCluster) -> None:
    cluster.create(_with_cluster_ip("web", "127.1.7.7"))
    with pytest.raises(ApiError) as refused:
        cluster.create(_with_cluster_ip("api", "127.1.7.7"))
    assert refused.value.code == 422
    assert "provided IP is already allocated" in refused.value.message
    assert cluster.get(*SERVICES, "default", "api") is None


def test_an_address_outside_the_range_is_refused(cluster: EmulatedCluster) -> None:
    with pytest.raises(ApiError) as refused:
        cluster.create(_with_cluster_ip("web", "10.96.0.10"))
    assert refused.value.code == 422
    assert "not in the valid range" in refused.value.message


def test_headless_services_stay_headless(cluster: EmulatedCluster, pool: AddressPool) -> None:
    spec = cluster.create(_with_cluster_ip("web", "None"))["spec"]
    assert (spec["clusterIP"], spec["clusterIPs"]) == ("None", ["None"])
    cluster.delete(*SERVICES, "default", "web")  # nothing to release, nothing fails


def test_external_name_services_get_no_address(cluster: EmulatedCluster) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"},
    }
    assert "clusterIP" not in cluster.create(obj)["spec"]


def test_the_address_survives_updates_and_cannot_change(cluster: EmulatedCluster) -> None:
    created = cluster.create(service("web"))
    address = created["spec"]["clusterIP"]
    patched = cluster.patch(*SERVICES, "default", "web", {"spec": {"selector": {"app": "green"}}})
    assert patched["spec"]["clusterIP"] == address
    replacement = service("web", selector={"app": "blue"})  # a PUT without the address
    replacement["metadata"]["resourceVersion"] = patched["metadata"]["resourceVersion"]
    replaced = cluster.replace(replacement)
    assert (replaced["spec"]["clusterIP"], replaced["spec"]["clusterIPs"]) == (address, [address])
    with pytest.raises(ApiError) as refused:
        cluster.patch(*SERVICES, "default", "web", {"spec": {"clusterIP": "127.1.9.9"}})
    assert refused.value.code == 422 and "may not change" in refused.value.message


def test_the_address_is_released_when_the_service_goes(
    cluster: EmulatedCluster, pool: AddressPool
) -> None:
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    address = cluster.create(service("web"))["spec"]["clusterIP"]
    in_namespace = cluster.create(service("api", "shop"))["spec"]["clusterIP"]
    cluster.delete(*SERVICES, "default", "web")
    assert address not in pool
    cluster.delete("v1", "namespaces", None, "shop")
    assert in_namespace not in pool
    # A released address may be asked for again.
    assert cluster.create(_with_cluster_ip("again", address))["spec"]["clusterIP"] == address


def test_without_a_pool_nothing_changes(kube_cluster: EmulatedCluster) -> None:
    spec = kube_cluster.create(service("web"))["spec"]
    assert spec["clusterIP"].startswith("10.96.")
    assert "clusterIPs" not in spec
