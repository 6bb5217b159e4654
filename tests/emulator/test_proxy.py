"""The API server's service proxy."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from greenlight_sandbox.emulator import EmulatedCluster


def _get(cluster: EmulatedCluster, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(cluster.url + path, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def test_without_a_handler_there_are_no_endpoints(kube_cluster: EmulatedCluster) -> None:
    status, body = _get(kube_cluster, "/api/v1/namespaces/shop/services/web:80/proxy/readyz")
    assert status == 503
    assert "no endpoints available" in body and '"kind": "Status"' in body


@pytest.mark.parametrize(
    ("service_part", "port"),
    [("web:80", "80"), ("web", None), ("http:web:80", "80"), ("web:http", "http")],
)
def test_the_handler_answers(
    kube_cluster: EmulatedCluster, service_part: str, port: str | None
) -> None:
    calls: list[tuple[str, str, str | None, str]] = []

    def handler(namespace: str, service: str, port: str | None, path: str) -> tuple[int, str]:
        calls.append((namespace, service, port, path))
        return (200, "ready") if path.startswith("/readyz") else (500, "boom")

    kube_cluster.set_service_proxy(handler)
    base = f"/api/v1/namespaces/shop/services/{service_part}/proxy"
    assert _get(kube_cluster, f"{base}/readyz?verbose=1") == (200, "ready")
    assert _get(kube_cluster, f"{base}/other") == (500, "boom")
    assert _get(kube_cluster, base)[0] == 500
    assert calls == [
        ("shop", "web", port, "/readyz?verbose=1"),
        ("shop", "web", port, "/other"),
        ("shop", "web", port, "/"),
    ]


def test_a_handler_returning_none_means_no_endpoints(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.set_service_proxy(lambda namespace, service, port, path: None)
    assert _get(kube_cluster, "/api/v1/namespaces/shop/services/web/proxy/")[0] == 503


def test_a_failing_handler_is_a_bad_gateway(kube_cluster: EmulatedCluster) -> None:
    def handler(namespace: str, service: str, port: str | None, path: str) -> tuple[int, str]:
        raise RuntimeError("the fake app crashed")

    kube_cluster.set_service_proxy(handler)
    status, body = _get(kube_cluster, "/api/v1/namespaces/shop/services/web/proxy/")
    assert status == 502 and "the fake app crashed" in body
    assert kube_cluster.server_errors == []
