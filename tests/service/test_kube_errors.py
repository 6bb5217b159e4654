"""The service's HTTP answer for each typed error of the shared adapter (`greenlight.kube.errors`):
404 for a Release that is not there, 409 for a conflict, 503 for everything else the caller can
only retry later."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from greenlight.kube import errors
from tests.service import factories
from tests.service.conftest import ALICE_AUTH, Service


@pytest.mark.parametrize(
    ("status", "answer"),
    [(404, 404), (409, 409), (401, 503), (403, 503), (410, 503), (422, 503), (500, 503)],
)
def test_the_api_servers_status_becomes_one_http_answer(
    service: Service, status: int, answer: int
) -> None:
    service.put(factories.release(phase="Verifying"))
    refusal = ApiException(status=status, reason="Refused")
    refusal.body = '{"kind": "Status", "message": "said the API server"}'
    service.cluster.release_error = errors.translate(
        refusal, verb="get", namespace="shop", name="web"
    )

    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=ALICE_AUTH)

    assert response.status_code == answer, response.text
    assert "said the API server" in response.json()["detail"]
    if answer == 503:
        assert response.headers["Retry-After"] == "5"
        assert response.json()["detail"].startswith("get releases shop/web: the Kubernetes API ")


def test_an_unreachable_api_server_is_503_with_the_reason(service: Service) -> None:
    service.put(factories.release(phase="Verifying"))
    service.cluster.release_error = errors.translate(
        ConnectionRefusedError(111, "Connection refused"), verb="get", namespace="shop", name="web"
    )

    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=ALICE_AUTH)

    assert response.status_code == 503
    assert response.json()["detail"] == (
        "get releases shop/web: the Kubernetes API is unreachable (Connection refused)"
    )
