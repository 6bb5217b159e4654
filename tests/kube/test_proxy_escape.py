"""A gate's path cannot leave the Service's proxy prefix: dot segments would let the operator
GET anything it may read through the API server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from greenlight.gates.base import ProbeTarget
from greenlight.gates.http import HttpGate
from greenlight.kube import proxy
from greenlight.kube.transports import ApiServerProxyTransport
from greenlight.models import HttpProbeSpec
from greenlight_sandbox.emulator import EmulatedCluster

# More `..` than the prefix has segments: a client clamps them at the root.
ESCAPES = [
    "/../../../../../../../../apis/apps/v1/namespaces/shop/deployments",
    "/./../../../../../../../../api/v1/namespaces/shop/services",
    "/readyz/../../../../../../../../../api/v1/namespaces/shop/services",
]


def get(api_client: Any, path: str) -> tuple[int, str]:
    transport = ApiServerProxyTransport(api_client)
    return asyncio.run(
        transport.get(
            namespace="shop", service="web-preview", port=80, path=path, timeout_seconds=2
        )
    )


@pytest.mark.parametrize("path", ESCAPES)
def test_a_dot_segment_path_is_not_sent(
    api_client: Any, cluster: EmulatedCluster, path: str
) -> None:
    cluster.set_service_proxy(lambda namespace, service, port, path: (200, "pod"))
    # ConnectionError, so that before the check the test fails by reaching the cluster.
    with pytest.raises(ConnectionError, match="leaves Service web-preview's proxy"):
        get(api_client, path)
    assert cluster.requests == []


def test_the_gate_fails_instead_of_reading_the_cluster(
    api_client: Any, cluster: EmulatedCluster
) -> None:
    # Built without validation, as a Release stored before the models refused such paths.
    spec = HttpProbeSpec.model_construct(
        path=ESCAPES[0], port=None, expect_status=[200], timeout_seconds=2
    )
    gate = HttpGate(spec, ApiServerProxyTransport(api_client))
    outcome = asyncio.run(gate.probe(ProbeTarget(namespace="shop", service="web-preview", port=80)))
    assert not outcome.ok
    assert "leaves Service web-preview's proxy" in outcome.message
    assert cluster.requests == []


def test_paths_inside_the_service_still_go(api_client: Any, cluster: EmulatedCluster) -> None:
    cluster.set_service_proxy(lambda namespace, service, port, path: (200, f"pod {path}"))
    assert get(api_client, "/a/...b/c?next=../x") == (200, "pod /a/...b/c?next=../x")


def test_a_host_with_a_path_of_its_own_keeps_its_prefix() -> None:
    kwargs: dict[str, Any] = {"namespace": "shop", "service": "web", "port": 80}
    proxy.check_inside_service(
        "https://rancher/k8s/clusters/c1",
        "/api/v1/namespaces/shop/services/web:80/proxy/x",
        **kwargs,
    )
    with pytest.raises(ConnectionError):
        proxy.check_inside_service(
            "https://rancher/k8s/clusters/c1",
            "/api/v1/namespaces/shop/services/web:80/proxy/%2e%2e/%2e%2e/x",
            **kwargs,
        )
