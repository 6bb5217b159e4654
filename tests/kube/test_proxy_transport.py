"""Gates through the API server's service proxy, answered by the emulator's proxy handler."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import yaml

from greenlight.gates.base import ProbeTarget
from greenlight.gates.http import HttpGate
from greenlight.kube import proxy
from greenlight.kube.client import load_api_client
from greenlight.kube.transports import ApiServerProxyTransport
from greenlight.models import HttpProbeSpec
from greenlight_sandbox.emulator import EmulatedCluster

Seen = list[tuple[str, str, str | None, str]]


def get(api_client: Any, path: str, *, timeout: float = 2.0, port: int = 80) -> tuple[int, str]:
    transport = ApiServerProxyTransport(api_client)
    return asyncio.run(
        transport.get(
            namespace="shop", service="web-preview", port=port, path=path, timeout_seconds=timeout
        )
    )


@pytest.fixture()
def seen(cluster: EmulatedCluster) -> Seen:
    """What reached the "pods" behind the proxy; `/sick` answers 503, anything else 200."""
    requests: Seen = []

    def handler(namespace: str, service: str, port: str | None, path: str) -> tuple[int, str]:
        requests.append((namespace, service, port, path))
        return (503, "database down") if path.startswith("/sick") else (200, f"ok {path}")

    cluster.set_service_proxy(handler)
    return requests


def test_the_workloads_status_and_body_come_back(api_client: Any, seen: Seen) -> None:
    assert get(api_client, "/readyz") == (200, "ok /readyz")
    assert get(api_client, "/sick") == (503, "database down")
    assert seen == [
        ("shop", "web-preview", "80", "/readyz"),
        ("shop", "web-preview", "80", "/sick"),
    ]


def test_nested_paths_and_queries_reach_the_workload_intact(api_client: Any, seen: Seen) -> None:
    assert get(api_client, "/health/ready?verbose=1&x=y", port=9090)[0] == 200
    assert seen == [("shop", "web-preview", "9090", "/health/ready?verbose=1&x=y")]


def test_the_request_goes_to_the_service_proxy_path(
    api_client: Any, seen: Seen, cluster: EmulatedCluster
) -> None:
    get(api_client, "/readyz")
    assert [r.path for r in cluster.requests] == [
        "/api/v1/namespaces/shop/services/web-preview:80/proxy/readyz"
    ]
    assert proxy.service_proxy_path(namespace="a", service="b", port=1, path="/x y") == (
        "/api/v1/namespaces/a/services/b:1/proxy/x%20y"
    )


def test_a_service_without_endpoints_fails_the_gate_with_the_servers_reason(
    api_client: Any, cluster: EmulatedCluster
) -> None:
    cluster.set_service_proxy(None)
    gate = HttpGate(HttpProbeSpec(path="/readyz"), ApiServerProxyTransport(api_client))
    target = ProbeTarget(namespace="shop", service="web-preview", port=80)
    outcome = asyncio.run(gate.probe(target))
    assert not outcome.ok
    assert outcome.message == (
        'GET /readyz -> 503 (expected 200): no endpoints available for service "web-preview"'
    )


def test_probes_pass_and_fail_through_the_gate(api_client: Any, seen: Seen) -> None:
    transport = ApiServerProxyTransport(api_client)
    target = ProbeTarget(namespace="shop", service="web-preview", port=80)

    async def both() -> list[tuple[bool, str]]:
        ready = HttpGate(HttpProbeSpec(path="/readyz"), transport)
        sick = HttpGate(HttpProbeSpec(path="/sick"), transport)
        outcomes = await asyncio.gather(ready.probe(target), sick.probe(target))
        return [(outcome.ok, outcome.message) for outcome in outcomes]

    assert asyncio.run(both()) == [
        (True, "GET /readyz -> 200"),
        (False, "GET /sick -> 503 (expected 200): database down"),
    ]


def test_a_slow_answer_times_out(api_client: Any, seen: Seen, cluster: EmulatedCluster) -> None:
    cluster.inject_timeout(path_regex="/proxy/slow", seconds=2.0)
    with pytest.raises(TimeoutError, match=r"timed out after 0\.2s"):
        get(api_client, "/slow", timeout=0.2)


def test_an_unreachable_api_server_is_a_refused_connection(
    tmp_path: Any, cluster: EmulatedCluster
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    config = cluster.kubeconfig()
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{closed_port}"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    api = load_api_client(kubeconfig=str(path))
    try:
        with pytest.raises(ConnectionRefusedError):
            get(api, "/readyz")
    finally:
        api.close()
