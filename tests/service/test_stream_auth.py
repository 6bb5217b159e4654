"""Event streams are authorized for as long as they are open, against the emulated API
server: opening the all-Releases stream needs a list right, a stream stops delivering a
namespace whose right was taken back, ends when its token is revoked, and ends after its
lifetime."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from greenlight_api.core.config import AuthMode, Settings
from greenlight_sandbox.emulator import EmulatedCluster, UserInfo, wait_for
from tests.service import live

ALICE = {"Authorization": "Bearer alice-token"}
CAROL = {"Authorization": "Bearer carol-token"}


@pytest.fixture
def cluster(kube_cluster: EmulatedCluster) -> EmulatedCluster:
    live.prepare(kube_cluster)
    kube_cluster.tokens["alice-token"] = UserInfo("alice", ("devs",))
    kube_cluster.tokens["carol-token"] = UserInfo("carol", ("nobody",))
    for verb in ("get", "list"):
        kube_cluster.allow("devs", verb, "releases", "shop")
        kube_cluster.allow("devs", verb, "releases", "other")
    return kube_cluster


def _serve(cluster: EmulatedCluster, **overrides: Any) -> Any:
    settings = Settings(
        kubeconfig=str(cluster.kubeconfig_path),
        auth=AuthMode.TOKENREVIEW,
        **{"auth_cache_seconds": 0.5, "sse_keepalive_seconds": 0.5, **overrides},
    )
    return live.serve_in_thread(settings)


@pytest.fixture
def http(cluster: EmulatedCluster) -> Iterator[httpx.Client]:
    with _serve(cluster) as base, httpx.Client(base_url=base, trust_env=False, timeout=10) as c:
        yield c


def _within(lines: Iterator[str], seconds: float = 10) -> Iterator[str]:
    """The stream's lines, failing the test once `seconds` have passed: keep-alive comments
    would otherwise keep a stream that never ends going for ever."""
    deadline = time.monotonic() + seconds
    for line in lines:
        if time.monotonic() > deadline:
            raise AssertionError(f"the stream was still open after {seconds} s")
        yield line


def _listed(http: httpx.Client, headers: dict[str, str], namespace: str) -> int:
    params = {"namespace": namespace}
    return http.get("/api/v1/releases", headers=headers, params=params).status_code


def test_the_all_releases_stream_needs_a_list_right(
    cluster: EmulatedCluster, http: httpx.Client
) -> None:
    live.make_release(cluster, "web")
    wait_for(lambda: http.get("/api/v1/releases", headers=ALICE).json()["items"])
    # Carol's token is valid but she may list nothing: no stream for her.
    response = http.get("/api/v1/events", headers=CAROL)
    assert response.status_code == 403, response.text
    assert "'carol' may not list releases.greenlight.dev in any namespace" in response.text
    # Alice may list in shop: her stream opens.
    with http.stream("GET", "/api/v1/events", headers=ALICE) as s:
        assert s.status_code == 200
        assert next(live.sse_events(_within(s.iter_lines())))[0] == "ready"


def test_a_stream_stops_delivering_a_namespace_whose_right_was_taken_back(
    cluster: EmulatedCluster, http: httpx.Client
) -> None:
    live.make_release(cluster, "web")
    with http.stream("GET", "/api/v1/events", headers=ALICE) as s:
        events = live.sse_events(_within(s.iter_lines()))
        assert next(events)[0] == "ready"
        live.set_status(cluster, "web", phase="Progressing")
        kind, data = next(events)
        assert (kind, data["release"]["name"]) == ("release", "web")

        cluster.revoke("devs", "list", "releases", "shop")
        wait_for(lambda: _listed(http, ALICE, "shop") == 403, timeout=5)

        def shop_changes_in_a_round(round_no: int) -> list[str]:
            """Change web (shop), then add a marker in `other`; what of shop came first."""
            live.set_status(cluster, "web", message=f"round {round_no}")
            live.make_release(cluster, f"marker-{round_no}", namespace="other")
            seen = []
            for kind, data in events:
                if kind != "release":
                    continue
                if data["release"]["name"] == f"marker-{round_no}":
                    return seen
                seen.append(data["release"]["name"])
            raise AssertionError("the stream ended")

        rounds = iter(range(1, 1000))
        # The stream's own verdict ages out within a few seconds at most...
        wait_for(lambda: shop_changes_in_a_round(next(rounds)) == [], timeout=10)
        # ...and from then on nothing of shop is delivered, while `other` still is.
        for _ in range(3):
            assert shop_changes_in_a_round(next(rounds)) == []


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/namespaces/shop/releases/web/events"])
def test_a_stream_ends_when_its_token_is_revoked(
    cluster: EmulatedCluster, http: httpx.Client, path: str
) -> None:
    live.make_release(cluster, "web", phase="Progressing")
    wait_for(lambda: http.get("/api/v1/releases", headers=ALICE).json()["items"])
    with http.stream("GET", path, headers=ALICE) as s:
        assert s.status_code == 200
        events = live.sse_events(_within(s.iter_lines()))
        assert next(events)[0] in ("ready", "status")
        del cluster.tokens["alice-token"]
        rest = list(events)
    assert rest[-1][0] == "end"
    assert rest[-1][1]["reason"] == "unauthorized"


def test_a_stream_of_one_release_ends_when_the_right_to_get_it_is_taken_back(
    cluster: EmulatedCluster, http: httpx.Client
) -> None:
    live.make_release(cluster, "web", phase="Progressing")
    wait_for(lambda: http.get("/api/v1/releases", headers=ALICE).json()["items"])
    with http.stream("GET", "/api/v1/namespaces/shop/releases/web/events", headers=ALICE) as s:
        events = live.sse_events(_within(s.iter_lines()))
        assert next(events)[0] == "status"
        cluster.revoke("devs", "get", "releases", "shop")
        rest = list(events)
    assert rest[-1] == ("end", {"reason": "forbidden", "phase": "Progressing"})


def test_a_stream_ends_after_its_lifetime(cluster: EmulatedCluster) -> None:
    live.make_release(cluster, "web", phase="Progressing")
    with (
        _serve(cluster, sse_max_stream_seconds=1.5) as base,
        httpx.Client(base_url=base, trust_env=False, timeout=10) as http,
    ):
        wait_for(lambda: http.get("/api/v1/releases", headers=ALICE).json()["items"])
        for path in ("/api/v1/events", "/api/v1/namespaces/shop/releases/web/events"):
            with http.stream("GET", path, headers=ALICE) as s:
                kinds = list(live.sse_events(_within(s.iter_lines())))
            assert kinds[-1][0] == "end"
            assert kinds[-1][1]["reason"] == "expired"
