"""Label and field selectors: parsing, and filtering of lists."""

from __future__ import annotations

from typing import Any

import kubernetes.client
import pytest

from greenlight_sandbox.emulator import ApiError, EmulatedCluster
from greenlight_sandbox.emulator.selectors import (
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from tests.emulator.builders import CONFIGMAPS, configmap

LABELS = {"app": "web", "color": "blue", "tier": "front"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("color in (blue,green)", True),
        ("color in (green)", False),
        ("color notin (green, red)", True),
        ("color notin (blue)", False),
        ("missing notin (x)", True),
        ("app=web,color in (blue, green),!missing", True),
        ("app=web,color=green", False),
    ],
)
def test_label_selector_matching(selector: str, expected: bool) -> None:
    requirements = parse_label_selector(selector)
    assert labels_match(requirements, {"metadata": {"labels": LABELS}}) is expected


def test_invalid_label_selector_is_400(kube_cluster: EmulatedCluster) -> None:
    with pytest.raises(ApiError) as err:
        kube_cluster.list(*CONFIGMAPS, "default", label_selector="a b c")
    assert err.value.code == 400


def test_field_selector_parsing() -> None:
    (equal,) = parse_field_selector("metadata.name=web")
    assert equal.matches({"metadata": {"name": "web"}})
    (different,) = parse_field_selector("status.phase!=Running")
    assert different.matches({"status": {"phase": "Pending"}})
    assert not different.matches({"status": {"phase": "Running"}})


def test_label_selector_on_lists(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("blue", labels={"app": "web", "color": "blue"}))
    kube_cluster.create(configmap("green", labels={"app": "web", "color": "green"}))
    kube_cluster.create(configmap("db", labels={"app": "db"}))
    kube_cluster.create(configmap("elsewhere", "other", labels={"app": "web"}))

    def names(selector: str, namespace: str | None = "default") -> list[str]:
        items = kube_cluster.list(*CONFIGMAPS, namespace, label_selector=selector)
        return [item["metadata"]["name"] for item in items]

    assert names("app=web") == ["blue", "green"]
    assert names("app=web", None) == ["blue", "green", "elsewhere"]
    assert names("color") == ["blue", "green"]
    assert names("!color") == ["db"]
    assert names("color notin (blue)") == ["db", "green"]
    assert names("app in (db, web),color!=green") == ["blue", "db"]


def test_field_selector_on_lists(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))
    kube_cluster.create(configmap("b"))
    items = kube_cluster.list(*CONFIGMAPS, "default", field_selector="metadata.name=b")
    assert [item["metadata"]["name"] for item in items] == ["b"]
    items = kube_cluster.list(*CONFIGMAPS, None, field_selector="metadata.namespace!=default")
    assert items == []


def test_selectors_through_the_kubernetes_client(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a", labels={"app": "web"}))
    kube_cluster.create(configmap("b", labels={"app": "db"}))
    with kube_cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        listed: Any = core.list_namespaced_config_map("default", label_selector="app=web")
        everywhere: Any = core.list_config_map_for_all_namespaces(field_selector="metadata.name=b")
    assert [item.metadata.name for item in listed.items] == ["a"]
    assert [item.metadata.name for item in everywhere.items] == ["b"]
