"""Whatever a client sends, the answer is a clear 4xx naming the problem, never a 5xx."""

from __future__ import annotations

import pytest

from tests.service import factories
from tests.service.conftest import ALICE_AUTH, Service

ROLLBACK = "/api/v1/namespaces/shop/releases/web/rollback"
JSON = {**ALICE_AUTH, "Content-Type": "application/json"}


@pytest.fixture
def svc(service: Service) -> Service:
    service.put(factories.release(stable=3))
    return service


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"revision": 0}, "revision", "greater than or equal to 1"),
        ({"revision": -1}, "revision", "greater than or equal to 1"),
        ({"revision": 10**12}, "revision", "less than or equal to 2147483647"),
        ({"revision": 10**40}, "revision", ""),
        ({"revision": "2"}, "revision", "valid integer"),
        ({"revision": 2.0}, "revision", "valid integer"),
        ({"revision": True}, "revision", "valid integer"),
        ({"revision": [2]}, "revision", "valid integer"),
        ({"revision": 2, "force": True}, "force", "Extra inputs are not permitted"),
        ({"rev": 2}, "rev", "Extra inputs are not permitted"),
        ([2], "body", ""),
        ("2", "body", ""),
    ],
)
def test_bad_rollback_bodies_are_422_naming_the_field(
    svc: Service, body: object, field: str, words: str
) -> None:
    response = svc.client.post(ROLLBACK, json=body, headers=ALICE_AUTH)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert field in problem["message"]
    assert words in problem["message"]
    assert any(field in [str(p) for p in item["loc"]] for item in problem["detail"]) or (
        field == "body"
    )
    assert svc.cluster.patches == []


@pytest.mark.parametrize("text", ["{", '{"revision": }', "revision=2", "\x00\xff", "[1,"])
def test_malformed_json_is_422(svc: Service, text: str) -> None:
    response = svc.client.post(ROLLBACK, content=text.encode("latin-1"), headers=JSON)
    assert response.status_code == 422, response.text
    assert "JSON" in response.json()["message"]
    assert svc.cluster.patches == []


def test_a_body_that_is_not_json_is_422(svc: Service) -> None:
    response = svc.client.post(
        ROLLBACK, content=b"revision=2", headers={**ALICE_AUTH, "Content-Type": "text/plain"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "name",
    ["Web", "web_1", "1web", "-web", "web-", "a" * 64, "web.shop", "%20", "w%C3%A9b"],
)
def test_release_names_that_are_not_dns_labels_are_422(svc: Service, name: str) -> None:
    for method, suffix in (("get", ""), ("get", "/events"), ("post", "/promote")):
        response = svc.client.request(
            method, f"/api/v1/namespaces/shop/releases/{name}{suffix}", headers=ALICE_AUTH
        )
        assert response.status_code == 422, (method, name, response.text)
        assert "name" in response.json()["message"]


@pytest.mark.parametrize("namespace", ["Shop", "shop_", "-shop", "s" * 64])
def test_namespaces_that_are_not_dns_labels_are_422(svc: Service, namespace: str) -> None:
    response = svc.client.get(f"/api/v1/namespaces/{namespace}/releases/web", headers=ALICE_AUTH)
    assert response.status_code == 422
    assert "ns" in response.json()["message"]
    response = svc.client.get(f"/api/v1/releases?namespace={namespace}", headers=ALICE_AUTH)
    assert response.status_code == 422
    assert "namespace" in response.json()["message"]


def test_unknown_routes_and_methods_are_4xx(svc: Service) -> None:
    assert svc.client.get("/api/v1/nothing").status_code == 404
    assert svc.client.delete("/api/v1/namespaces/shop/releases/web").status_code == 405
    assert svc.client.get("/api/v1/namespaces/shop/releases/web/promote").status_code == 405


def test_an_enormous_token_is_401(svc: Service) -> None:
    response = svc.client.get(
        "/api/v1/releases", headers={"Authorization": "Bearer " + "x" * 20000}
    )
    assert response.status_code == 401
