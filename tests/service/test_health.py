"""Liveness, readiness, version, metrics and request ids, through the app's routes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from greenlight_api.core.config import Settings
from tests.service import factories
from tests.service.conftest import ALICE_AUTH, Service


def test_healthz_answers_without_any_io(make_service: Callable[..., Service]) -> None:
    svc = make_service(synced=False)
    svc.cluster.failing = "the API server is down"
    response = svc.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_until_the_cache_is_synced(make_service: Callable[..., Service]) -> None:
    svc = make_service(synced=False)
    response = svc.client.get("/readyz")
    assert response.status_code == 503
    assert "not synced" in response.json()["reason"]
    svc.put(factories.release())
    response = svc.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "reason": "serving 1 releases"}


def test_readyz_is_503_while_draining(service: Service) -> None:
    service.app.state.lifecycle.draining = True
    response = service.client.get("/readyz")
    assert response.status_code == 503
    assert "draining" in response.json()["reason"]
    assert service.client.get("/healthz").status_code == 200


def test_reads_before_the_cache_is_synced_are_503(make_service: Callable[..., Service]) -> None:
    svc = make_service(synced=False)
    svc.cluster.rights = {("alice", "list", "")}
    response = svc.client.get("/api/v1/releases", headers=ALICE_AUTH)
    assert response.status_code == 503
    assert "still loading" in response.json()["detail"]
    assert response.headers["retry-after"] == "5"


def test_version_reports_the_revision_and_colour_of_the_pod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GREENLIGHT_REVISION", "7")
    monkeypatch.setenv("GREENLIGHT_COLOR", "green")
    from fastapi.testclient import TestClient

    from greenlight_api.main import create_app

    client = TestClient(create_app(Settings(auth="none"), configure_logging=False))
    body = client.get("/version").json()
    assert body["revision"] == "7"
    assert body["color"] == "green"
    assert body["version"]


def test_metrics_count_requests_by_route_template_and_status(service: Service) -> None:
    service.put(factories.release())
    service.client.get("/api/v1/namespaces/shop/releases/web", headers=ALICE_AUTH)
    service.client.get("/api/v1/namespaces/shop/releases/nope", headers=ALICE_AUTH)
    service.client.get("/no/such/page")
    text = service.client.get("/metrics").text
    template = "/api/v1/namespaces/{ns}/releases/{name}"
    assert f'route="{template}",status="200"}} 1.0' in text
    assert f'route="{template}",status="404"}} 1.0' in text
    assert 'route="<unmatched>",status="404"} 1.0' in text
    assert "/releases/web" not in text  # raw paths would make unbounded label sets
    assert (
        f'greenlight_api_request_duration_seconds_bucket{{le="0.001",method="GET",route="{template}"}}'
        in text
    )


def test_request_id_is_echoed_or_generated(service: Service) -> None:
    echoed = service.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = service.client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    insane = service.client.get("/healthz", headers={"X-Request-ID": "a b\tc"})
    assert insane.headers["x-request-id"] != "a b\tc"


def test_a_bug_is_a_500_with_the_request_id(service: Service) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    from greenlight_api.api import deps

    service.app.dependency_overrides[deps.get_settings] = broken
    response = service.client.get("/version", headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error (request id bug-1)"}
    assert response.headers["x-request-id"] == "bug-1"
    assert service.client.get("/healthz").status_code == 200


def test_the_openapi_document_lists_the_api_and_its_auth(service: Service) -> None:
    document = service.client.get("/openapi.json").json()
    paths = document["paths"]
    assert "/api/v1/namespaces/{ns}/releases/{name}/rollback" in paths
    assert "/api/v1/events" in paths
    assert "/ui/releases" not in paths
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    rollback = paths["/api/v1/namespaces/{ns}/releases/{name}/rollback"]["post"]
    body = rollback["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False
