"""Bearer tokens, TokenReview and SubjectAccessReview."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import kubernetes.client
import pytest

from greenlight_sandbox.emulator import EmulatedCluster, UserInfo


def _call(
    cluster: EmulatedCluster, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(cluster.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture()
def strict_cluster() -> Iterator[EmulatedCluster]:
    with EmulatedCluster(require_auth=True) as cluster:
        yield cluster


def test_any_token_is_accepted_by_default(kube_cluster: EmulatedCluster) -> None:
    assert _call(kube_cluster, "GET", "/api/v1/namespaces", token="whatever")[0] == 200
    assert _call(kube_cluster, "GET", "/api/v1/namespaces")[0] == 200


def test_unknown_tokens_get_401_when_auth_is_required(strict_cluster: EmulatedCluster) -> None:
    status, body = _call(strict_cluster, "GET", "/api/v1/namespaces", token="whatever")
    assert status == 401 and body["reason"] == "Unauthorized"
    assert _call(strict_cluster, "GET", "/api/v1/namespaces")[0] == 401
    assert _call(strict_cluster, "GET", "/api/v1/namespaces", token="admin-token")[0] == 200
    strict_cluster.tokens["alice-token"] = UserInfo("alice", ["devs"], "u-1")
    assert _call(strict_cluster, "GET", "/api/v1/namespaces", token="alice-token")[0] == 200
    with strict_cluster.api_client() as api:  # the kubeconfig carries the admin token
        assert kubernetes.client.CoreV1Api(api).list_namespace().items
    assert strict_cluster.list("v1", "namespaces")  # the harness is not authenticated


def test_token_review(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.tokens["alice-token"] = UserInfo("alice", ["devs"], "u-1")
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": "alice-token"},
    }
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    status, known = _call(kube_cluster, "POST", path, review)
    assert status == 201
    assert known["status"]["authenticated"] is True
    assert known["status"]["user"] == {
        "username": "alice",
        "uid": "u-1",
        "groups": ["devs", "system:authenticated"],
    }
    _, unknown = _call(kube_cluster, "POST", path, {**review, "spec": {"token": "nope"}})
    assert unknown["status"]["authenticated"] is False


def _access_review(
    cluster: EmulatedCluster,
    user: str,
    groups: list[str],
    verb: str,
    namespace: str,
    subresource: str | None = None,
) -> dict[str, Any]:
    with cluster.api_client() as api:
        review = kubernetes.client.V1SubjectAccessReview(
            spec=kubernetes.client.V1SubjectAccessReviewSpec(
                user=user,
                groups=groups,
                resource_attributes=kubernetes.client.V1ResourceAttributes(
                    group="greenlight.dev",
                    resource="releases",
                    verb=verb,
                    namespace=namespace,
                    subresource=subresource,
                ),
            )
        )
        authorization = kubernetes.client.AuthorizationV1Api(api)
        result: Any = authorization.create_subject_access_review(review)
    return {"allowed": result.status.allowed, "reason": result.status.reason}


def test_subject_access_review(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.allow("alice", "get", "releases", namespace="shop")
    kube_cluster.allow("ops", "patch", "releases")
    assert _access_review(kube_cluster, "alice", [], "get", "shop")["allowed"] is True
    denied = _access_review(kube_cluster, "alice", [], "get", "other")
    assert denied["allowed"] is False and "alice" in denied["reason"]
    assert _access_review(kube_cluster, "alice", [], "patch", "shop")["allowed"] is False
    assert _access_review(kube_cluster, "bob", ["ops"], "patch", "anywhere")["allowed"] is True
    assert _access_review(kube_cluster, "root", ["system:masters"], "delete", "x")["allowed"]


def test_subject_access_review_of_a_subresource(kube_cluster: EmulatedCluster) -> None:
    """As RBAC: a rule on `releases` covers none of its subresources, one on
    `releases/actions` only that one, `*` and `*/actions` every resource's."""
    kube_cluster.allow("owner", "create", "releases", namespace="shop")
    kube_cluster.allow("owner", "patch", "releases", namespace="shop")
    kube_cluster.allow("operator", "create", "releases/actions", namespace="shop")
    kube_cluster.allow("anyone-sub", "create", "*/actions")
    kube_cluster.allow("root", "*", "*")

    def allowed(user: str, verb: str, subresource: str | None) -> bool:
        return bool(_access_review(kube_cluster, user, [], verb, "shop", subresource)["allowed"])

    assert allowed("owner", "create", None) and not allowed("owner", "create", "actions")
    assert allowed("operator", "create", "actions")
    assert not allowed("operator", "create", None) and not allowed("operator", "create", "status")
    assert not allowed("operator", "update", "actions")
    assert allowed("anyone-sub", "create", "actions") and not allowed("anyone-sub", "create", None)
    assert allowed("root", "create", "actions")
    denied = _access_review(kube_cluster, "owner", [], "create", "shop", "actions")
    assert "create releases.greenlight.dev/actions" in denied["reason"]


def test_self_subject_access_review_uses_the_callers_token(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.tokens["alice-token"] = UserInfo("alice", [], "u-1")
    kube_cluster.allow("alice", "list", "releases")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "group": "greenlight.dev",
                "resource": "releases",
                "verb": "list",
                "namespace": "shop",
            }
        },
    }
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert _call(kube_cluster, "POST", path, review, token="alice-token")[1]["status"]["allowed"]
    assert not _call(kube_cluster, "POST", path, review, token="nobody")[1]["status"]["allowed"]


def test_token_review_with_audiences(kube_cluster: EmulatedCluster) -> None:
    from greenlight_sandbox.emulator.auth import API_AUDIENCE

    kube_cluster.tokens["scoped"] = UserInfo("alice", ["devs"], audiences=("greenlight",))
    kube_cluster.tokens["any"] = UserInfo("bob")
    path = "/apis/authentication.k8s.io/v1/tokenreviews"

    def review(token: str, audiences: list[str] | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"token": token}
        if audiences is not None:
            spec["audiences"] = audiences
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        status: dict[str, Any] = _call(kube_cluster, "POST", path, body)[1]["status"]
        return status

    assert review("scoped", ["greenlight", "other"])["audiences"] == ["greenlight"]
    refused = review("scoped", None)  # the API server's own audience
    assert refused["authenticated"] is False
    assert "audiences" in refused["error"]
    assert review("scoped", ["other"])["authenticated"] is False
    # A token registered without audiences keeps the emulator's earlier answer: any audience.
    assert review("any", ["greenlight"])["audiences"] == ["greenlight"]
    assert review("any", None)["audiences"] == [API_AUDIENCE]
