"""The one watch loop (`ReleaseWatch`) against the emulated API server: a watch the server ends
is resumed from the last version seen, 410 Gone lists again, and a lost connection is retried
after a growing pause, then given up (bounded) or retried until it comes back (a cache)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from greenlight import models
from greenlight.kube import errors
from greenlight.kube.releases import ReleaseClient, ReleaseWatch, WatchEvent
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from tests.kube.factories import release_body


@pytest.fixture()
def releases(cluster: EmulatedCluster) -> Iterator[ReleaseClient]:
    api_client = cluster.api_client()
    # The kubeconfig loader's hook would set the host again before each request; the tests
    # below move the host away to lose the connection.
    api_client.configuration.refresh_api_key_hook = None
    with ReleaseClient(api_client, timeout=(2.0, 5.0)) as client:
        yield client


class Collected:
    """A ReleaseWatch iterated in a thread of its own, its events and restarts recorded."""

    def __init__(self, releases: ReleaseClient, namespace: str | None, **options: Any) -> None:
        self.events: list[WatchEvent] = []
        self.restarts: list[str] = []
        self.watch = ReleaseWatch(
            releases,
            namespace,
            on_restart=self.restarts.append,
            **options,
        )
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for event in self.watch:
            self.events.append(event)

    def __enter__(self) -> Collected:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.watch.close()
        self._thread.join(10)
        assert not self._thread.is_alive(), "close() ends the watch"

    def types(self) -> list[str]:
        return [event.type for event in self.events]


def watches(cluster: EmulatedCluster) -> list[dict[str, str]]:
    return [r.query for r in cluster.requests if r.query.get("watch") == "true" and r.status == 200]


def lists(cluster: EmulatedCluster) -> int:
    return sum(
        1
        for r in cluster.requests
        if r.method == "GET" and r.path.endswith("/releases") and r.query.get("watch") != "true"
    )


def annotate(cluster: EmulatedCluster, value: str) -> str:
    changed = cluster.patch(
        models.API_VERSION,
        models.PLURAL,
        "shop",
        "web",
        {"metadata": {"annotations": {"n": value}}},
    )
    return str(changed["metadata"]["resourceVersion"])


def test_a_watch_ended_by_the_server_resumes_from_the_last_version(
    cluster: EmulatedCluster, releases: ReleaseClient
) -> None:
    listed = cluster.create(release_body())
    with Collected(releases, "shop", window=1) as seen:
        wait_for(lambda: len(watches(cluster)) == 1)
        changed = annotate(cluster, "1")
        wait_for(lambda: len(watches(cluster)) == 2, timeout=10)  # the server ended the first
        annotate(cluster, "2")
        wait_for(lambda: seen.types() == ["LISTED", "MODIFIED", "MODIFIED"])

    assert seen.events[0].items[0]["metadata"]["name"] == "web"
    first, second = watches(cluster)[:2]
    assert first["resourceVersion"] == listed["metadata"]["resourceVersion"]
    assert second["resourceVersion"] == changed, "resumed from the last version seen"
    assert lists(cluster) == 1, "renewed, not listed again"
    assert "renewed" in seen.restarts


def test_410_gone_lists_again(cluster: EmulatedCluster, releases: ReleaseClient) -> None:
    cluster.create(release_body())
    with Collected(releases, "shop", window=1) as seen:
        wait_for(lambda: len(watches(cluster)) == 1)
        # The renewal of the watch is refused: its version is too old.
        cluster.inject_errors(method="GET", path_regex=r"/namespaces/shop/releases$", status=410)
        wait_for(lambda: seen.types() == ["LISTED", "LISTED"], timeout=10)
        wait_for(lambda: len(watches(cluster)) == 2)

    assert seen.restarts[:2] == ["renewed", "expired"]
    assert lists(cluster) == 2


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_lost_connection_is_retried_after_growing_pauses_then_given_up(
    cluster: EmulatedCluster, releases: ReleaseClient
) -> None:
    cluster.create(release_body())
    restarts: list[str] = []
    watch = ReleaseWatch(
        releases, "shop", name="web", window=1, reconnects=2, on_restart=restarts.append
    )
    events = iter(watch)
    assert next(events).type == "LISTED"
    releases._api_client.configuration.host = _closed_port()  # the API server is gone
    started = time.monotonic()

    with pytest.raises(errors.Unreachable) as lost:
        next(events)

    # Two losses survived, after pauses of 0.5 s and 1 s; the third in a row ends it.
    assert restarts == ["error", "error"]
    assert time.monotonic() - started >= 0.5 + 1
    assert (lost.value.verb, lost.value.name) == ("watch", "web")
    assert "Connection refused" in lost.value.message


def test_a_cache_watch_never_gives_up_and_resumes_when_the_server_is_back(
    cluster: EmulatedCluster, releases: ReleaseClient
) -> None:
    cluster.create(release_body())
    server = releases._api_client.configuration.host
    with Collected(releases, None, window=1) as seen:
        wait_for(lambda: seen.types() == ["LISTED"])
        releases._api_client.configuration.host = _closed_port()
        wait_for(lambda: seen.restarts.count("error") >= 3, timeout=10)
        releases._api_client.configuration.host = server
        changed = annotate(cluster, "back")
        wait_for(lambda: seen.types() == ["LISTED", "MODIFIED"], timeout=10)

    assert seen.events[1].object["metadata"]["resourceVersion"] == changed
    assert lists(cluster) == 1, "resumed from the last version, not listed again"
