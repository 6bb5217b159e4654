"""The Release API's routes: reads from the cache, actions through the cluster, auth on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from greenlight import models
from greenlight_api.core.config import AuthMode
from greenlight_api.kube.reviews import UserInfo
from tests.service import factories
from tests.service.conftest import ALICE_AUTH, BOB_AUTH, Service


def test_list_without_a_token_is_401(service: Service) -> None:
    response = service.client.get("/api/v1/releases")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization" in response.json()["detail"]


def test_list_with_an_unknown_token_is_401(service: Service) -> None:
    response = service.client.get("/api/v1/releases", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert "not accepted" in response.json()["detail"]


def test_list_with_a_malformed_header_is_401(service: Service) -> None:
    response = service.client.get("/api/v1/releases", headers={"Authorization": "Basic eA=="})
    assert response.status_code == 401


def test_list_shows_only_the_namespaces_the_caller_may_read(service: Service) -> None:
    service.put(factories.release("web"), factories.release("api"), factories.release("x", "other"))
    response = service.client.get("/api/v1/releases", headers=ALICE_AUTH)
    assert response.status_code == 200
    assert [(r["namespace"], r["name"]) for r in response.json()["items"]] == [
        ("shop", "api"),
        ("shop", "web"),
    ]


def test_list_of_a_namespace_the_caller_may_not_read_is_403(service: Service) -> None:
    service.put(factories.release("x", "other"))
    response = service.client.get("/api/v1/releases?namespace=other", headers=ALICE_AUTH)
    assert response.status_code == 403
    assert (
        "'alice' may not list releases.greenlight.dev in namespace other"
        in (response.json()["detail"])
    )


def test_cluster_wide_readers_see_every_namespace(service: Service) -> None:
    service.put(factories.release("web"), factories.release("x", "other"))
    service.cluster.rights.add(("alice", "list", ""))
    items = service.client.get("/api/v1/releases", headers=ALICE_AUTH).json()["items"]
    assert {r["namespace"] for r in items} == {"shop", "other"}


def test_summary_fields(service: Service) -> None:
    service.put(
        factories.release(
            phase="Verifying",
            current=3,
            gates=[{"name": "readyz", "phase": "Running", "successes": 1}],
        )
    )
    [item] = service.client.get("/api/v1/releases", headers=ALICE_AUTH).json()["items"]
    assert item["phase"] == "Verifying"
    assert item["activeColor"] == "blue" and item["previewColor"] == "green"
    assert item["currentRevision"] == 3 and item["stableRevision"] == 2
    assert item["images"] == ["registry.example.com/web:1.3"]
    assert item["gates"] == [
        {
            "name": "readyz",
            "phase": "Running",
            "successes": 1,
            "failures": 0,
            "successThreshold": 3,
            "failureThreshold": 3,
            "lastMessage": "",
        }
    ]
    assert item["ended"] is False


def test_detail_has_spec_status_history_conditions_and_actions(service: Service) -> None:
    service.put(factories.release())
    response = service.client.get("/api/v1/namespaces/shop/releases/web", headers=BOB_AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["spec"]["strategy"]["autoPromote"] is True
    assert "template" not in body["spec"]
    assert body["status"]["phase"] == "Succeeded"
    assert [h["revision"] for h in body["history"]] == [2, 1]
    assert body["conditions"] == []
    assert body["actions"]["promote"]["allowed"] is False
    assert "AwaitingPromotion" in body["actions"]["promote"]["reason"]
    assert body["actions"]["rollbackRevisions"] == [1]
    assert body["ended"] is True


def test_detail_of_a_missing_release_is_404(service: Service) -> None:
    response = service.client.get("/api/v1/namespaces/shop/releases/nope", headers=ALICE_AUTH)
    assert response.status_code == 404
    assert response.json() == {"detail": "release shop/nope not found"}


def test_detail_is_403_before_404_for_a_stranger(service: Service) -> None:
    response = service.client.get("/api/v1/namespaces/other/releases/nope", headers=ALICE_AUTH)
    assert response.status_code == 403


def test_an_unreadable_spec_or_status_is_reported_not_fatal(service: Service) -> None:
    body = factories.release()
    body["spec"]["replicas"] = -3
    body["status"]["stableRevision"] = "many"
    service.put(body)
    response = service.client.get("/api/v1/namespaces/shop/releases/web", headers=ALICE_AUTH)
    assert response.status_code == 200
    assert response.json()["specError"].startswith("spec.replicas")


def test_promote_writes_the_annotation_and_answers_202(service: Service) -> None:
    service.put(factories.release(phase="AwaitingPromotion", current=3, auto_promote=False))
    response = service.client.post(
        "/api/v1/namespaces/shop/releases/web/promote", headers=ALICE_AUTH
    )
    assert response.status_code == 202, response.text
    assert response.json()["annotations"] == {models.ANNOTATION_PROMOTE: "3"}
    assert "moves to revision 3" in response.json()["description"]
    assert service.cluster.patches == [("shop", "web", {models.ANNOTATION_PROMOTE: "3"})]


def test_promote_out_of_awaiting_promotion_is_409_with_the_reason(service: Service) -> None:
    service.put(factories.release(phase="Succeeded"))
    response = service.client.post(
        "/api/v1/namespaces/shop/releases/web/promote", headers=ALICE_AUTH
    )
    assert response.status_code == 409
    assert "promote applies only in AwaitingPromotion" in response.json()["detail"]
    assert service.cluster.patches == []


def test_an_action_beside_a_malformed_annotation_is_409_as_in_the_cli(service: Service) -> None:
    left = {models.ANNOTATION_ROLLBACK_TO: "abc"}
    service.put(factories.release(phase="Verifying", current=3, annotations=left))
    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=ALICE_AUTH)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert 'carries greenlight.dev/rollback-to="abc", which is malformed' in detail
    assert service.cluster.patches == []


def test_abort_in_flight(service: Service) -> None:
    service.put(factories.release(phase="Verifying", current=3))
    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=ALICE_AUTH)
    assert response.status_code == 202
    assert service.cluster.patches == [("shop", "web", {models.ANNOTATION_ABORT: "true"})]


def test_abort_when_nothing_is_in_flight_is_409(service: Service) -> None:
    service.put(factories.release(phase="Succeeded"))
    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=ALICE_AUTH)
    assert response.status_code == 409
    assert "nothing is in flight" in response.json()["detail"]


def test_rollback_to_a_revision(service: Service) -> None:
    service.put(factories.release(stable=3))
    response = service.client.post(
        "/api/v1/namespaces/shop/releases/web/rollback", json={"revision": 2}, headers=ALICE_AUTH
    )
    assert response.status_code == 202
    assert service.cluster.patches == [("shop", "web", {models.ANNOTATION_ROLLBACK_TO: "2"})]


def test_rollback_without_a_body_picks_the_previous_success(service: Service) -> None:
    service.put(factories.release(stable=3))
    response = service.client.post(
        "/api/v1/namespaces/shop/releases/web/rollback", headers=ALICE_AUTH
    )
    assert response.status_code == 202
    assert response.json()["annotations"] == {models.ANNOTATION_ROLLBACK_TO: "2"}


def test_rollback_to_an_unknown_revision_is_409(service: Service) -> None:
    service.put(factories.release(stable=3))
    response = service.client.post(
        "/api/v1/namespaces/shop/releases/web/rollback", json={"revision": 9}, headers=ALICE_AUTH
    )
    assert response.status_code == 409
    assert "no revision 9 in its history (known: 2, 3)" in response.json()["detail"]


def test_actions_need_the_actions_right(service: Service) -> None:
    service.put(factories.release(phase="Verifying"))
    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=BOB_AUTH)
    assert response.status_code == 403
    assert "'bob' may not create releases.greenlight.dev/actions" in response.json()["detail"]
    assert service.cluster.patches == []
    # Both rights that allow an action were asked about, the narrow one first.
    assert service.cluster.access_calls[-2:] == [
        ("bob", "create/actions", "shop", "web"),
        ("bob", "patch", "shop", "web"),
    ]


OPS = UserInfo(username="olga", groups=("ops",))
OPS_AUTH = {"Authorization": "Bearer olga-token"}
ACTIONS = [
    ("promote", None, factories.release(phase="AwaitingPromotion", current=3)),
    ("abort", None, factories.release(phase="Verifying")),
    ("rollback", {"revision": 2}, factories.release(stable=3)),
]


@pytest.mark.parametrize(("action", "body", "release"), ACTIONS)
def test_the_actions_right_alone_allows_an_action_without_patch(
    service: Service, action: str, body: dict[str, int] | None, release: dict[str, Any]
) -> None:
    """Pressing a button must not need `patch releases`: that right edits `spec.template`,
    which the operator runs with its own rights, as good as creating Deployments. A user
    holding only `create releases/actions` acts; only the action's annotation is written."""
    service.cluster.tokens["olga-token"] = OPS
    service.cluster.rights = {("ops", "create/actions", "shop")}
    service.put(release)
    response = service.client.post(
        f"/api/v1/namespaces/shop/releases/web/{action}", json=body, headers=OPS_AUTH
    )
    assert response.status_code == 202, response.text
    assert ("olga", "patch", "shop", "web") not in service.cluster.access_calls
    [(_, _, written)] = service.cluster.patches
    assert set(written) <= set(models.ACTION_ANNOTATIONS)


@pytest.mark.parametrize("verb", ["create", "update", "get", "list", "watch"])
def test_other_rights_on_releases_do_not_allow_actions(service: Service, verb: str) -> None:
    """`create releases` is the right to create Releases, not the `actions` subresource."""
    service.cluster.tokens["olga-token"] = OPS
    service.cluster.rights = {("ops", verb, "shop")}
    service.put(factories.release(phase="Verifying"))
    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=OPS_AUTH)
    assert response.status_code == 403, response.text
    assert service.cluster.patches == []


def test_patch_on_releases_still_allows_actions(service: Service) -> None:
    """Kept on purpose: whoever may patch the Release could write the annotation itself."""
    service.cluster.tokens["olga-token"] = OPS
    service.cluster.rights = {("ops", "patch", "shop")}
    service.put(factories.release(phase="Verifying"))
    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=OPS_AUTH)
    assert response.status_code == 202, response.text
    assert service.cluster.access_calls == [
        ("olga", "create/actions", "shop", "web"),
        ("olga", "patch", "shop", "web"),
    ]


def test_action_on_a_missing_release_is_404(service: Service) -> None:
    response = service.client.post(
        "/api/v1/namespaces/shop/releases/nope/abort", headers=ALICE_AUTH
    )
    assert response.status_code == 404


def test_a_failing_kubernetes_api_is_503_with_the_reason(service: Service) -> None:
    service.put(factories.release(phase="Verifying"))
    service.client.get("/api/v1/releases", headers=ALICE_AUTH)  # the token is now cached
    service.cluster.failing = "annotating Release shop/web: the Kubernetes API answered 500"
    response = service.client.post("/api/v1/namespaces/shop/releases/web/abort", headers=ALICE_AUTH)
    assert response.status_code == 503
    assert "answered 500" in response.json()["detail"]


def test_a_failing_token_review_is_503_not_401(service: Service) -> None:
    service.cluster.failing = "reviewing the bearer token: the Kubernetes API is unreachable"
    response = service.client.get("/api/v1/releases", headers=ALICE_AUTH)
    assert response.status_code == 503


def test_reviews_are_cached(service: Service) -> None:
    service.put(factories.release())
    for _ in range(5):
        assert service.client.get("/api/v1/releases?namespace=shop", headers=ALICE_AUTH).is_success
    assert service.cluster.token_reviews == 1
    assert service.cluster.access_reviews == 1


def test_auth_none_lets_everyone_in(make_service: Callable[..., Service]) -> None:
    svc = make_service(AuthMode.NONE)
    svc.put(factories.release(phase="Verifying"))
    assert svc.client.get("/api/v1/releases").json()["items"][0]["name"] == "web"
    assert svc.client.post("/api/v1/namespaces/shop/releases/web/abort").status_code == 202
    assert svc.cluster.token_reviews == 0


# Rights limited to some Releases: an RBAC rule with `resourceNames: [web]`.
CAROL = UserInfo(username="carol", groups=("web-team",))
CAROL_AUTH = {"Authorization": "Bearer carol-token"}


@pytest.fixture
def carol(service: Service) -> Service:
    """carol may get and act on the Release `web` in `shop`, and no other Release."""
    service.cluster.tokens["carol-token"] = CAROL
    service.cluster.named_rights = {
        ("web-team", "get", "shop", "web"),
        ("web-team", "create/actions", "shop", "web"),
    }
    service.put(
        factories.release("web", phase="AwaitingPromotion", current=3),
        factories.release("api", phase="AwaitingPromotion", current=3),
    )
    return service


@pytest.mark.parametrize(
    ("method", "path", "verb", "allowed"),
    [
        ("GET", "/api/v1/namespaces/shop/releases/{name}", "get", 200),
        ("GET", "/api/v1/namespaces/shop/releases/{name}/events", "get", 200),
        ("GET", "/ui/namespaces/shop/releases/{name}", "get", 200),
        ("POST", "/api/v1/namespaces/shop/releases/{name}/promote", "create/actions", 202),
        ("POST", "/api/v1/namespaces/shop/releases/{name}/abort", "create/actions", 202),
        ("POST", "/api/v1/namespaces/shop/releases/{name}/rollback", "create/actions", 202),
    ],
)
def test_per_release_routes_name_the_release_in_the_access_review(
    carol: Service, method: str, path: str, verb: str, allowed: int
) -> None:
    if path.endswith("/events"):
        # The stream of a Release still in flight would not end: end it at once.
        carol.app.state.lifecycle.stop_streams()
        carol.cache.end_subscriptions()
    web = carol.client.request(method, path.format(name="web"), headers=CAROL_AUTH)
    assert web.status_code == allowed, web.text
    api = carol.client.request(method, path.format(name="api"), headers=CAROL_AUTH)
    assert api.status_code == 403
    said = "create releases.greenlight.dev/actions" if verb == "create/actions" else verb
    said += " releases.greenlight.dev" if verb == "get" else ""
    assert f"'carol' may not {said}" in api.json()["detail"]
    assert "in namespace shop, Release api" in api.json()["detail"]
    # Each Release its own review, and its own cached answer; an action refused by the
    # narrow right is also asked as `patch` (a broader right that covers it).
    refused = [("carol", verb, "shop", "api")]
    if verb == "create/actions":
        refused.append(("carol", "patch", "shop", "api"))
    assert carol.cluster.access_calls == [("carol", verb, "shop", "web"), *refused]
    carol.client.request(method, path.format(name="api"), headers=CAROL_AUTH)
    assert len(carol.cluster.access_calls) == 1 + len(refused)


def test_list_reviews_name_no_release(carol: Service) -> None:
    response = carol.client.get("/api/v1/releases?namespace=shop", headers=CAROL_AUTH)
    assert response.status_code == 403  # `resourceNames` rules never allow a list
    assert carol.cluster.access_calls == [("carol", "list", "shop", None)]
