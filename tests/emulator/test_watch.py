"""Watch streams: resourceVersion semantics, selectors, timeouts, and the official client."""

from __future__ import annotations

import time
from typing import Any

import kubernetes.client
import kubernetes.watch
import pytest

from greenlight_sandbox.emulator import EmulatedCluster
from greenlight_sandbox.emulator import watch as watch_module
from tests.emulator.builders import CONFIGMAPS, RELEASE_CRD, RELEASES, configmap, release
from tests.emulator.streams import open_watch, summary

CM_PATH = "/api/v1/namespaces/default/configmaps"
WATCH: Any = kubernetes.watch.Watch  # untyped in the client


@pytest.mark.parametrize("flag", ["true", "True", "1"])
def test_watch_flag_spellings(kube_cluster: EmulatedCluster, flag: str) -> None:
    kube_cluster.create(configmap("a"))
    with open_watch(kube_cluster, CM_PATH, watch=flag) as stream:
        assert summary(stream.take(1)) == [("ADDED", "a")]


def test_without_resource_version_current_objects_then_live_events(
    kube_cluster: EmulatedCluster,
) -> None:
    kube_cluster.create(configmap("a"))
    kube_cluster.create(configmap("b"))
    with open_watch(kube_cluster, CM_PATH) as stream:
        kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"k": "v"}})
        kube_cluster.delete(*CONFIGMAPS, "default", "b")
        events = stream.take(4)
    assert summary(events) == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events[2:]]
    assert rvs == sorted(rvs)


def test_from_a_resource_version_only_later_events(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("old"))
    rv = kube_cluster.create(configmap("a"))["metadata"]["resourceVersion"]
    kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"k": "1"}})
    with open_watch(kube_cluster, CM_PATH, resourceVersion=rv, allowWatchBookmarks="true") as s:
        kube_cluster.create(configmap("new"))
        events = s.take(2)
    assert summary(events) == [("MODIFIED", "a"), ("ADDED", "new")]


def test_resource_version_zero_means_any(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    with open_watch(kube_cluster, CM_PATH, resourceVersion="0") as stream:
        assert summary(stream.take(1)) == [("ADDED", "a")]


def test_initial_events_end_with_a_bookmark(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    with open_watch(kube_cluster, CM_PATH, sendInitialEvents="true") as stream:
        added, bookmark = stream.take(2)
    assert added["type"] == "ADDED" and bookmark["type"] == "BOOKMARK"
    annotations = bookmark["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}


def test_too_old_resource_version_is_410(
    kube_cluster: EmulatedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "MAX_EVENTS_PER_RESOURCE", 4)
    first = kube_cluster.create(configmap("a"))["metadata"]["resourceVersion"]
    for i in range(6):
        kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"i": str(i)}})
    with open_watch(kube_cluster, CM_PATH, resourceVersion=first) as stream:
        (event,) = stream.take(1)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


def test_timeout_seconds_ends_the_stream(kube_cluster: EmulatedCluster) -> None:
    started = time.monotonic()
    with open_watch(kube_cluster, CM_PATH, timeoutSeconds="1") as stream:
        assert stream.rest(timeout=3) == []
    assert 0.9 < time.monotonic() - started < 2.5


def test_label_selector_on_watch_reports_transitions(kube_cluster: EmulatedCluster) -> None:
    with open_watch(kube_cluster, CM_PATH, labelSelector="app=web") as stream:
        kube_cluster.create(configmap("other", labels={"app": "db"}))
        kube_cluster.create(configmap("a", labels={"app": "web"}))
        kube_cluster.patch(*CONFIGMAPS, "default", "a", {"metadata": {"labels": {"app": "db"}}})
        kube_cluster.patch(*CONFIGMAPS, "default", "other", {"data": {"k": "v"}})
        kube_cluster.patch(*CONFIGMAPS, "default", "a", {"metadata": {"labels": {"app": "web"}}})
        kube_cluster.delete(*CONFIGMAPS, "default", "a")
        events = stream.take(4)
    assert summary(events) == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "a"), ("DELETED", "a")]


def test_field_selector_and_named_watches(kube_cluster: EmulatedCluster) -> None:
    with (
        open_watch(kube_cluster, CM_PATH, fieldSelector="metadata.name=b") as by_field,
        open_watch(kube_cluster, f"{CM_PATH}/b") as by_name,
    ):
        kube_cluster.create(configmap("a"))
        kube_cluster.create(configmap("b"))
        assert summary(by_field.take(1)) == [("ADDED", "b")]
        assert summary(by_name.take(1)) == [("ADDED", "b")]


def test_namespaced_watch_sees_only_its_namespace(kube_cluster: EmulatedCluster) -> None:
    with (
        open_watch(kube_cluster, CM_PATH) as namespaced,
        open_watch(kube_cluster, "/api/v1/configmaps") as everywhere,
    ):
        kube_cluster.create(configmap("a", "elsewhere"))
        kube_cluster.create(configmap("b"))
        assert summary(namespaced.take(1)) == [("ADDED", "b")]
        assert summary(everywhere.take(2)) == [("ADDED", "a"), ("ADDED", "b")]


def test_official_client_watch_stream(kube_cluster: EmulatedCluster) -> None:
    rv = kube_cluster.create(configmap("before"))["metadata"]["resourceVersion"]
    kube_cluster.create(configmap("a"))
    kube_cluster.patch(*CONFIGMAPS, "default", "a", {"data": {"k": "v"}})
    seen: list[tuple[str, str]] = []
    with kube_cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        watcher = WATCH()
        for event in watcher.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                watcher.stop()
    assert seen == [("ADDED", "a"), ("MODIFIED", "a")]


def test_official_client_watch_of_custom_objects(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.apply_crd(RELEASE_CRD)
    kube_cluster.create(release("web"))
    seen: list[tuple[str, str]] = []
    with kube_cluster.api_client() as api:
        custom = kubernetes.client.CustomObjectsApi(api)
        watcher = WATCH()
        stream = watcher.stream(
            custom.list_namespaced_custom_object,
            "greenlight.dev",
            "v1alpha1",
            "default",
            "releases",
            timeout_seconds=5,
        )
        for event in stream:
            seen.append((event["type"], event["object"]["metadata"]["name"]))
            if len(seen) == 1:
                kube_cluster.patch(*RELEASES, "default", "web", {"spec": {"replicas": 2}})
            if len(seen) == 2:
                watcher.stop()
    assert seen == [("ADDED", "web"), ("MODIFIED", "web")]
