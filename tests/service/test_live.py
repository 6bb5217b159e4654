"""The service run for real under uvicorn on loopback, against the emulated API server:
authentication and authorization answered by it, the cache following its watch, event
streams, actions writing annotations, and a failing API server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from greenlight import models
from greenlight_api.core.config import AuthMode, Settings
from greenlight_sandbox.emulator import EmulatedCluster, UserInfo, wait_for
from tests.service import live


@pytest.fixture
def cluster(kube_cluster: EmulatedCluster) -> EmulatedCluster:
    live.prepare(kube_cluster)
    kube_cluster.tokens["alice-token"] = UserInfo("alice", ("devs",))
    kube_cluster.tokens["bob-token"] = UserInfo("bob", ("viewers",))
    kube_cluster.allow("devs", "get", "releases", "shop")
    kube_cluster.allow("devs", "list", "releases", "shop")
    # The right to act, without `patch releases` (which would let them edit the template).
    kube_cluster.allow("devs", "create", "releases/actions", "shop")
    return kube_cluster


@pytest.fixture
def url(cluster: EmulatedCluster) -> Iterator[str]:
    settings = Settings(
        kubeconfig=str(cluster.kubeconfig_path),
        auth=AuthMode.TOKENREVIEW,
        auth_cache_seconds=0.5,
        sse_keepalive_seconds=0.5,
    )
    with live.serve_in_thread(settings) as base:
        yield base


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as client:
        yield client


ALICE = {"Authorization": "Bearer alice-token"}
BOB = {"Authorization": "Bearer bob-token"}


def _names(http: httpx.Client, **params: str) -> list[str]:
    response = http.get("/api/v1/releases", headers=ALICE, params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_auth_flows(cluster: EmulatedCluster, http: httpx.Client) -> None:
    live.make_release(cluster, "web", phase="Succeeded")
    wait_for(lambda: _names(http) == ["web"])
    path = "/api/v1/namespaces/shop/releases/web"
    assert http.get(path).status_code == 401
    assert http.get(path, headers={"Authorization": "Bearer stolen"}).status_code == 401
    forbidden = http.get(path, headers=BOB)
    assert forbidden.status_code == 403
    assert (
        "'bob' may not get releases.greenlight.dev in namespace shop" in forbidden.json()["detail"]
    )
    assert http.get(path, headers=ALICE).status_code == 200
    # Rights granted later are seen once the cached answer expires.
    cluster.allow("viewers", "get", "releases", "shop")
    wait_for(lambda: http.get(path, headers=BOB).status_code == 200, timeout=5)


def test_the_cache_follows_the_watch(cluster: EmulatedCluster, http: httpx.Client) -> None:
    assert _names(http) == []
    live.make_release(cluster, "web")
    live.make_release(cluster, "api", phase="Progressing")
    wait_for(lambda: _names(http) == ["api", "web"])
    live.set_status(cluster, "api", phase="Verifying", message="gates running")

    def phase() -> str:
        body = http.get("/api/v1/namespaces/shop/releases/api", headers=ALICE).json()
        return str(body["phase"])

    wait_for(lambda: phase() == "Verifying")
    cluster.delete(models.API_VERSION, models.PLURAL, "shop", "web")
    wait_for(lambda: _names(http) == ["api"])
    # Reads came from the cache: the service listed Releases once and then only watched.
    lists = [
        r
        for r in cluster.requests
        if r.method == "GET" and r.path.endswith("/releases") and "watch" not in r.query
    ]
    assert len(lists) == 1, lists


def test_an_event_stream_delivers_status_changes_until_the_release_ends(
    cluster: EmulatedCluster, http: httpx.Client
) -> None:
    live.make_release(cluster, "web", phase="Progressing", currentRevision=2)
    wait_for(lambda: _names(http) == ["web"])
    seen: list[tuple[str, Any]] = []
    with http.stream("GET", "/api/v1/namespaces/shop/releases/web/events", headers=ALICE) as s:
        assert s.status_code == 200
        events = live.sse_events(s.iter_lines())
        seen.append(next(events))
        assert seen[0][0] == "status" and seen[0][1]["phase"] == "Progressing"
        live.set_status(cluster, "web", phase="Verifying")
        seen.append(next(events))
        assert seen[-1][1]["phase"] == "Verifying"
        live.set_status(cluster, "web", phase="Succeeded", stableRevision=2)
        seen.extend(events)  # the stream ends by itself
    assert [kind for kind, _ in seen] == ["status", "status", "status", "end"]
    assert seen[2][1]["phase"] == "Succeeded" and seen[2][1]["ended"] is True
    assert seen[3][1] == {"reason": "ended", "phase": "Succeeded"}


def test_the_all_releases_stream_reports_changes_the_caller_may_see(
    cluster: EmulatedCluster, http: httpx.Client
) -> None:
    # Opening the stream needs a list right where Releases are served: alice's is in shop.
    live.make_release(cluster, "first")
    wait_for(lambda: _names(http) == ["first"])
    with http.stream("GET", "/api/v1/events", headers=ALICE) as s:
        events = live.sse_events(s.iter_lines())
        assert next(events)[0] == "ready"
        live.make_release(cluster, "hidden", namespace="other")
        live.make_release(cluster, "web")
        kind, data = next(events)
    assert kind == "release"
    assert (data["type"], data["release"]["name"]) == ("ADDED", "web")


def test_an_action_writes_the_annotation(cluster: EmulatedCluster, http: httpx.Client) -> None:
    live.make_release(cluster, "web", phase="AwaitingPromotion", currentRevision=2)
    wait_for(lambda: _names(http) == ["web"])
    response = http.post("/api/v1/namespaces/shop/releases/web/promote", headers=ALICE)
    assert response.status_code == 202, response.text
    stored = cluster.get(models.API_VERSION, models.PLURAL, "shop", "web") or {}
    assert stored["metadata"]["annotations"][models.ANNOTATION_PROMOTE] == "2"
    # The cache sees the annotation come back through the watch, as a pending action.
    wait_for(
        lambda: (
            http.get("/api/v1/namespaces/shop/releases/web", headers=ALICE).json()["pendingActions"]
            == {"promote": "2"}
        )
    )
    assert http.post("/api/v1/namespaces/shop/releases/web/promote", headers=BOB).status_code == 403


def test_actions_are_authorized_by_the_actions_subresource(
    cluster: EmulatedCluster, http: httpx.Client
) -> None:
    """The API server answers the SubjectAccessReview of `create releases/actions`: a rule on
    `releases` itself (even `create`) is not that right; `patch releases` still is."""
    live.make_release(cluster, "web", phase="Verifying", currentRevision=2)
    wait_for(lambda: _names(http) == ["web"])
    cluster.tokens["carol-token"] = UserInfo("carol", ("creators",))
    cluster.allow("creators", "create", "releases", "shop")
    cluster.allow("creators", "update", "releases/status", "shop")
    carol = {"Authorization": "Bearer carol-token"}
    refused = http.post("/api/v1/namespaces/shop/releases/web/abort", headers=carol)
    assert refused.status_code == 403, refused.text
    assert "create releases.greenlight.dev/actions" in refused.json()["detail"]
    stored = cluster.get(models.API_VERSION, models.PLURAL, "shop", "web") or {}
    assert models.ANNOTATION_ABORT not in (stored["metadata"].get("annotations") or {})

    cluster.tokens["dave-token"] = UserInfo("dave", ("owners",))
    cluster.allow("owners", "patch", "releases", "shop")
    dave = {"Authorization": "Bearer dave-token"}
    accepted = http.post("/api/v1/namespaces/shop/releases/web/abort", headers=dave)
    assert accepted.status_code == 202, accepted.text


def test_a_failing_api_server_gives_503_with_a_reason(
    cluster: EmulatedCluster, http: httpx.Client
) -> None:
    live.make_release(cluster, "web", phase="Verifying", currentRevision=2)
    wait_for(lambda: _names(http) == ["web"])
    cluster.inject_errors(method="PATCH", path_regex=r"/releases/web$", status=500)
    response = http.post("/api/v1/namespaces/shop/releases/web/abort", headers=ALICE)
    assert response.status_code == 503
    assert "the Kubernetes API answered 500" in response.json()["detail"]
    assert http.post("/api/v1/namespaces/shop/releases/web/abort", headers=ALICE).status_code == 202


def test_many_concurrent_readers(cluster: EmulatedCluster, url: str) -> None:
    for i in range(20):
        live.make_release(cluster, f"web-{i}")
    failures: list[int] = []

    def reader() -> None:
        with httpx.Client(base_url=url, trust_env=False) as client:
            for _ in range(10):
                response = client.get("/api/v1/releases", headers=ALICE)
                if response.status_code != 200:
                    failures.append(response.status_code)

    with httpx.Client(base_url=url, trust_env=False) as client:
        wait_for(lambda: len(client.get("/api/v1/releases", headers=ALICE).json()["items"]) == 20)
    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _streams(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("greenlight_api_event_streams "):
            return float(line.split()[1])
    raise AssertionError("no stream gauge")


def test_a_client_that_goes_away_ends_its_stream(cluster: EmulatedCluster, url: str) -> None:
    live.make_release(cluster, "web", phase="Progressing")
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        wait_for(lambda: _names(http) == ["web"])
        follower = httpx.Client(base_url=url, trust_env=False, timeout=10)
        path = "/api/v1/namespaces/shop/releases/web/events"
        with follower, follower.stream("GET", path, headers=ALICE) as s:
            events = live.sse_events(s.iter_lines())  # held: dropping it closes the stream
            assert next(events)[0] == "status"
            assert _streams(http) == 1
        # The connection is closed: the server notices and lets the stream go.
        wait_for(lambda: _streams(http) == 0, timeout=5)


def test_a_namespace_filter_limits_what_is_served(cluster: EmulatedCluster) -> None:
    live.make_release(cluster, "web")
    live.make_release(cluster, "elsewhere", namespace="other")
    cluster.allow("devs", "list", "releases")  # alice may list everywhere
    settings = Settings(
        kubeconfig=str(cluster.kubeconfig_path), auth=AuthMode.TOKENREVIEW, namespaces=["shop"]
    )
    with (
        live.serve_in_thread(settings) as base,
        httpx.Client(base_url=base, trust_env=False) as http,
    ):
        assert _names(http) == ["web"]
    watched = {r.path for r in cluster.requests if "watch" in r.query}
    assert watched == {"/apis/greenlight.dev/v1alpha1/namespaces/shop/releases"}


def test_a_token_for_another_audience_is_refused(
    cluster: EmulatedCluster, http: httpx.Client
) -> None:
    # A token issued for the API server (a pod's default service-account token, say) or for
    # another service must not be replayable here; one issued for `greenlight` is accepted.
    from greenlight_sandbox.emulator.auth import API_AUDIENCE

    cluster.tokens["kube-token"] = UserInfo("alice", ("devs",), audiences=(API_AUDIENCE,))
    cluster.tokens["vault-token"] = UserInfo("alice", ("devs",), audiences=("vault",))
    cluster.tokens["ours"] = UserInfo("alice", ("devs",), audiences=("greenlight", "vault"))
    for token in ("kube-token", "vault-token"):
        response = http.get("/api/v1/releases", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (token, response.text)
        assert "audience" in response.json()["detail"]
    response = http.get("/api/v1/releases", headers={"Authorization": "Bearer ours"})
    assert response.status_code == 200, response.text
