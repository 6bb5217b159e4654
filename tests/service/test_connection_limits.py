"""Limits on what a client can hold or cost: made-up tokens, event streams per user,
connections that never send their headers, and the image's uvicorn limits."""

from __future__ import annotations

import pathlib
import secrets
import socket
import time
from collections.abc import Callable

import httpx
import pytest

from greenlight_api.core.config import AuthMode, Settings
from greenlight_api.core.connections import HeaderTimeoutH11Protocol
from greenlight_sandbox.emulator import EmulatedCluster, UserInfo, wait_for
from tests.service import live
from tests.service.conftest import ALICE_AUTH, Service

REPO = pathlib.Path(__file__).parents[2]


def test_a_flood_of_made_up_tokens_costs_few_token_reviews(
    make_service: Callable[..., Service],
) -> None:
    svc = make_service()
    svc.cluster.rights = {("devs", "list", "shop")}
    assert svc.client.get("/api/v1/releases", headers=ALICE_AUTH).status_code == 200
    answers: dict[int, int] = {}
    started = time.monotonic()
    for _ in range(500):
        bad = {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"}
        status = svc.client.get("/api/v1/releases", headers=bad).status_code
        answers[status] = answers.get(status, 0) + 1
    refilled = 5 * (time.monotonic() - started)  # the loop is slower on a busy machine
    assert set(answers) == {401, 429}, answers
    # The budget's burst (10 x 5/s) plus what refilled while the loop ran, not 500.
    assert svc.cluster.token_reviews <= 1 + 50 + refilled + 1, (svc.cluster.token_reviews, refilled)
    assert svc.cluster.token_reviews < 250, "the budget must cost far fewer reviews than tokens"
    throttled = svc.client.get("/api/v1/releases", headers={"Authorization": "Bearer nope"})
    assert throttled.status_code == 429 and throttled.headers["retry-after"]
    # A token already seen valid never waits for that budget.
    assert svc.client.get("/api/v1/releases", headers=ALICE_AUTH).status_code == 200


@pytest.fixture
def cluster(kube_cluster: EmulatedCluster) -> EmulatedCluster:
    live.prepare(kube_cluster)
    kube_cluster.tokens["alice-token"] = UserInfo("alice", ("devs",))
    kube_cluster.allow("devs", "list", "releases", "shop")
    kube_cluster.allow("devs", "get", "releases", "shop")
    return kube_cluster


def test_a_user_may_hold_only_so_many_streams(cluster: EmulatedCluster) -> None:
    live.make_release(cluster, "web")
    settings = Settings(
        kubeconfig=str(cluster.kubeconfig_path),
        auth=AuthMode.TOKENREVIEW,
        sse_keepalive_seconds=0.5,
        sse_max_streams_per_user=2,
    )
    with (
        live.serve_in_thread(settings) as base,
        httpx.Client(base_url=base, trust_env=False, timeout=10) as http,
    ):
        wait_for(lambda: http.get("/api/v1/releases", headers=ALICE_AUTH).json()["items"])
        first = httpx.Client(base_url=base, trust_env=False, timeout=10)
        second = httpx.Client(base_url=base, trust_env=False, timeout=10)
        with first.stream("GET", "/api/v1/events", headers=ALICE_AUTH) as one:
            assert one.status_code == 200
            with second.stream("GET", "/api/v1/events", headers=ALICE_AUTH) as two:
                assert two.status_code == 200
                third = http.get("/api/v1/namespaces/shop/releases/web/events", headers=ALICE_AUTH)
                assert third.status_code == 429, third.text
                assert "already has 2 event streams open" in third.json()["detail"]
                assert third.headers["retry-after"] == "10"
            second.close()  # the server notices the closed connection and frees the slot

            def opens() -> bool:
                with http.stream("GET", "/api/v1/events", headers=ALICE_AUTH) as again:
                    return again.status_code == 200

            wait_for(opens, timeout=5)
        first.close()


class _QuickHeaders(HeaderTimeoutH11Protocol):
    header_timeout = 0.5


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds` (reading whatever comes first)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            return False
    return False


def test_connections_that_do_not_send_their_headers_are_closed(cluster: EmulatedCluster) -> None:
    settings = Settings(kubeconfig=str(cluster.kubeconfig_path), auth=AuthMode.TOKENREVIEW)
    with live.serve_in_thread(settings, http=_QuickHeaders, timeout_keep_alive=5) as base:
        host, port = base.removeprefix("http://").split(":")
        address = (host, int(port))
        idle = socket.create_connection(address)
        slow = socket.create_connection(address)
        started = time.monotonic()
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert _closed_within(idle, 5) and _closed_within(slow, 5)
        assert time.monotonic() - started < 3
        # A request sent in time is served, and a keep-alive connection waits for the next.
        kept = socket.create_connection(address)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        kept.settimeout(5)
        assert kept.recv(12) == b"HTTP/1.1 200"
        assert _closed_within(kept, 5)  # the header timeout again, from the response's end
        for sock in (idle, slow, kept):
            sock.close()


def test_the_image_runs_uvicorn_with_connection_limits() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    api = dockerfile.split("FROM runtime AS api", 1)[1].split("FROM ", 1)[0]
    for flag in (
        '"--http", "greenlight_api.core.connections:HeaderTimeoutH11Protocol"',
        '"--limit-concurrency", "1000"',
        '"--timeout-keep-alive", "5"',
    ):
        assert flag in api
