"""SIGTERM on the real process: `/readyz` turns 503 at once, requests in flight (and new
ones, while load balancers catch up) still complete, event streams end cleanly, then the
process exits. Also checks the JSON logs of a real run."""

from __future__ import annotations

import json
import pathlib
import signal
import threading
import time
from typing import Any

import httpx

from greenlight import models
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from tests.service import live

GRACE = 3.0


def _in_flight(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", trust_env=False).text.splitlines():
        if line.startswith("greenlight_api_requests_in_flight "):
            return float(line.split()[1])
    return 0.0


def test_sigterm_drains_then_exits(kube_cluster: EmulatedCluster, tmp_path: pathlib.Path) -> None:
    cluster = kube_cluster
    live.prepare(cluster)
    live.make_release(cluster, "web", phase="AwaitingPromotion", currentRevision=2)
    live.make_release(cluster, "api", phase="Progressing", currentRevision=2)
    env = {
        "GREENLIGHT_API_KUBECONFIG": str(cluster.kubeconfig_path),
        "GREENLIGHT_API_AUTH": "none",
        "GREENLIGHT_API_DRAIN_GRACE_SECONDS": str(GRACE),
        "GREENLIGHT_API_SSE_KEEPALIVE_SECONDS": "0.5",
    }
    log = tmp_path / "service.log"
    with live.serve_in_subprocess(env, log) as (url, process):
        client = httpx.Client(base_url=url, trust_env=False, timeout=10)
        assert client.get("/healthz", headers={"X-Request-ID": "probe-42"}).status_code == 200

        # An event stream, open across the whole shutdown.
        stream_events: list[tuple[str, Any]] = []
        stream_done = threading.Event()

        def follow() -> None:
            with client.stream("GET", "/api/v1/namespaces/shop/releases/api/events") as s:
                stream_events.extend(live.sse_events(s.iter_lines()))
            stream_done.set()

        threading.Thread(target=follow, daemon=True).start()
        wait_for(lambda: stream_events, timeout=5)

        # A slow request: the API server holds the PATCH of the promote for a while.
        cluster.inject_timeout(method="PATCH", path_regex=r"/releases/web$", seconds=2.0)
        answers: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: answers.append(
                client.post("/api/v1/namespaces/shop/releases/web/promote")
            )
        )
        slow.start()
        wait_for(lambda: _in_flight(url) >= 3, timeout=5)  # the stream, the promote, this

        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: client.get("/readyz").status_code == 503, timeout=5)
        assert not answers, "the slow request was still in flight when readiness turned 503"
        assert client.get("/readyz").json()["reason"] == "draining: shutting down"
        # While draining, everything but readiness is served as before.
        assert client.get("/healthz").status_code == 200
        listing = client.get("/api/v1/releases", headers={"X-Request-ID": "list-42"})
        assert listing.status_code == 200
        assert listing.headers["x-request-id"] == "list-42"

        slow.join(timeout=10)
        assert [a.status_code for a in answers] == [202]
        stored = cluster.get(models.API_VERSION, models.PLURAL, "shop", "web") or {}
        assert stored["metadata"]["annotations"] == {models.ANNOTATION_PROMOTE: "2"}

        assert stream_done.wait(timeout=GRACE + 5)
        assert stream_events[-1] == ("end", {"reason": "shutdown", "phase": "Progressing"})
        code = process.wait(timeout=GRACE + 10)
        elapsed = time.monotonic() - signalled
        client.close()
    assert code in (0, -signal.SIGTERM), log.read_text()
    assert elapsed >= GRACE

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert any("AUTHENTICATION IS OFF" in m for m in messages)
    assert any(m.startswith("SIGTERM: draining") for m in messages)
    promote = [
        line for line in lines if line.get("route", "").endswith("/promote") and "status" in line
    ]
    assert promote and promote[0]["status"] == 202 and len(promote[0]["request_id"]) == 32
    assert any(line.get("request_id") == "list-42" and line["status"] == 200 for line in lines)
    assert all(line["level"] in {"DEBUG", "INFO", "WARNING", "ERROR"} for line in lines)
