"""The objects Greenlight writes, and how it reads what the cluster says, without a cluster."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from greenlight import models
from greenlight.kube import deployments, endpointslices, events, revisions, services
from greenlight.models import Color
from greenlight.rollout.observation import ServiceState
from tests.kube.factories import release_body, target_of, template

TARGET = target_of(release_body())
OWNER = {
    "apiVersion": "greenlight.dev/v1alpha1",
    "kind": "Release",
    "name": "web",
    "uid": TARGET.uid,
    "controller": True,
    "blockOwnerDeletion": True,
}
MANAGED = {"app.kubernetes.io/managed-by": "greenlight"}


def deployment(**overrides: Any) -> dict[str, Any]:
    return deployments.build(
        TARGET, color=Color.GREEN, revision=4, template=template(), replicas=3, **overrides
    )


class TestDeploymentBody:
    def test_is_named_after_the_colour_and_owned_by_the_release(self) -> None:
        body = deployment()
        assert body["metadata"]["name"] == "web-green"
        assert body["metadata"]["namespace"] == "shop"
        assert body["metadata"]["ownerReferences"] == [OWNER]
        assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "greenlight"
        assert body["spec"]["replicas"] == 3

    def test_selector_holds_only_release_and_colour(self) -> None:
        # Selectors are immutable: nothing that changes per revision may be in them.
        assert deployment()["spec"]["selector"] == {
            "matchLabels": {"greenlight.dev/release": "web", "greenlight.dev/color": "green"}
        }

    def test_pods_carry_the_template_labels_and_the_contract_labels(self) -> None:
        labels = deployment()["spec"]["template"]["metadata"]["labels"]
        assert labels == {
            "app": "web",
            "greenlight.dev/release": "web",
            "greenlight.dev/color": "green",
            "greenlight.dev/revision": "4",
        }

    def test_every_container_gets_colour_and_revision_variables(self) -> None:
        source = template()
        source["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
        source["spec"]["containers"].append({"name": "sidecar", "image": "proxy:1"})
        body = deployments.build(TARGET, color=Color.BLUE, revision=2, template=source, replicas=1)
        pod = body["spec"]["template"]["spec"]
        for container in pod["initContainers"] + pod["containers"]:
            env = {var["name"]: var.get("value") for var in container["env"]}
            assert env["GREENLIGHT_COLOR"] == "blue"
            assert env["GREENLIGHT_REVISION"] == "2"
        assert {"name": "LOG_LEVEL", "value": "info"} in pod["containers"][0]["env"]

    def test_variables_of_the_same_name_in_the_template_are_replaced(self) -> None:
        source = template()
        source["spec"]["containers"][0]["env"].append({"name": "GREENLIGHT_COLOR", "value": "x"})
        body = deployments.build(TARGET, color=Color.BLUE, revision=2, template=source, replicas=1)
        env = body["spec"]["template"]["spec"]["containers"][0]["env"]
        assert [var["value"] for var in env if var["name"] == "GREENLIGHT_COLOR"] == ["blue"]

    def test_the_stored_template_is_not_modified(self) -> None:
        source = template()
        before = repr(source)
        deployments.build(TARGET, color=Color.BLUE, revision=2, template=source, replicas=1)
        assert repr(source) == before


def stored_deployment(
    *, wanted: int = 3, generation: int = 2, revision: str = "4", **status: int
) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-green", "generation": generation},
        "spec": {
            "replicas": wanted,
            "template": {"metadata": {"labels": {"greenlight.dev/revision": revision}}},
        },
        "status": status,
    }


DONE = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}


@pytest.mark.parametrize(
    ("status", "rolled_out"),
    [
        pytest.param({**DONE, "readyReplicas": 3}, True, id="every replica updated and available"),
        pytest.param({**DONE, "observedGeneration": 1}, False, id="controller behind the spec"),
        pytest.param({**DONE, "updatedReplicas": 2}, False, id="not every replica updated"),
        pytest.param({**DONE, "availableReplicas": 2}, False, id="not every replica available"),
        pytest.param({**DONE, "replicas": 4}, False, id="old replicas still terminating"),
        pytest.param({}, False, id="no status yet"),
        pytest.param({**DONE, "observedGeneration": 3}, True, id="controller ahead is fine"),
    ],
)
def test_rolled_out_is_judged_as_kubectl_rollout_status(
    status: dict[str, int], rolled_out: bool
) -> None:
    assert deployments.color_state(stored_deployment(**status)).rolled_out is rolled_out


def test_a_deployment_scaled_to_zero_is_rolled_out_but_not_serving() -> None:
    state = deployments.color_state(stored_deployment(wanted=0, observedGeneration=2))
    assert state.rolled_out
    assert not state.serving


def test_colour_state_reads_revision_replicas_and_readiness() -> None:
    state = deployments.color_state(stored_deployment(**DONE, readyReplicas=3))
    assert (state.exists, state.revision, state.replicas, state.ready_replicas) == (True, 4, 3, 3)
    assert state.serving


def test_a_revision_label_that_is_not_a_number_reads_as_none() -> None:
    assert deployments.color_state(stored_deployment(revision="four")).revision is None


class TestServiceBody:
    def test_selects_release_and_one_colour_on_the_http_port(self) -> None:
        body = services.build(TARGET, name="web-preview", color=Color.BLUE)
        assert body["metadata"]["name"] == "web-preview"
        assert body["metadata"]["ownerReferences"] == [OWNER]
        assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "greenlight"
        assert body["spec"]["selector"] == {
            "greenlight.dev/release": "web",
            "greenlight.dev/color": "blue",
        }
        assert body["spec"]["ports"] == [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8000}
        ]

    def test_a_named_target_port_is_kept_as_a_name(self) -> None:
        named = target_of(release_body(), target_port="web")
        body = services.build(named, name="web", color=Color.BLUE)
        assert body["spec"]["ports"][0]["targetPort"] == "web"


@pytest.mark.parametrize(
    ("stored", "state"),
    [
        (None, ServiceState()),
        (
            {
                "metadata": {"ownerReferences": [OWNER], "labels": MANAGED},
                "spec": {"selector": {"greenlight.dev/color": "green"}},
            },
            ServiceState(exists=True, selected_color=Color.GREEN),
        ),
        (
            {"metadata": {}, "spec": {"selector": {"app": "web"}}},
            ServiceState(exists=True, selected_color=None, foreign=True),
        ),
        (
            {"metadata": {"ownerReferences": [{**OWNER, "uid": "another"}]}, "spec": {}},
            ServiceState(exists=True, foreign=True),
        ),
        (
            {
                "metadata": {"ownerReferences": [OWNER], "labels": MANAGED},
                "spec": {"selector": {"greenlight.dev/color": "red"}},
            },
            ServiceState(exists=True, selected_color=None),
        ),
    ],
    ids=["absent", "owned", "foreign", "owned by another release", "unknown colour"],
)
def test_service_state(stored: dict[str, Any] | None, state: ServiceState) -> None:
    assert services.service_state(stored, TARGET) == state


def endpoint(pod: str, ready: bool | None = True, kind: str = "Pod") -> dict[str, Any]:
    conditions = {} if ready is None else {"ready": ready}
    return {
        "addresses": ["10.0.0.1"],
        "conditions": conditions,
        "targetRef": {"kind": kind, "name": pod},
    }


def test_endpoint_colours_are_those_of_ready_pods_of_this_release() -> None:
    slices = [
        {
            "endpoints": [
                endpoint("web-blue-abc123-x1y2z"),
                endpoint("web-green-def456-q1w2e", ready=False),
            ]
        },
        {"endpoints": [endpoint("web-blue-blue-abc123-x1y2z"), endpoint("other-green-1-2")]},
        {"endpoints": None},
    ]
    assert endpointslices.colors_of("web", slices) == frozenset({Color.BLUE})


def test_an_endpoint_without_ready_condition_counts_as_ready() -> None:
    slices = [{"endpoints": [endpoint("web-green-def456-q1w2e", ready=None)]}]
    assert endpointslices.colors_of("web", slices) == frozenset({Color.GREEN})


def test_endpoints_that_are_not_pods_have_no_colour() -> None:
    slices = [{"endpoints": [endpoint("web-green-def456-q1w2e", kind="Node")]}]
    assert endpointslices.colors_of("web", slices) == frozenset()


def test_event_refers_to_the_release_by_uid_without_resource_version() -> None:
    now = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    body = events.build(TARGET, event_type="Warning", reason="RolledBack", message="m", now=now)
    assert body["involvedObject"] == {
        "apiVersion": "greenlight.dev/v1alpha1",
        "kind": "Release",
        "name": "web",
        "namespace": "shop",
        "uid": TARGET.uid,
    }
    assert (body["type"], body["reason"], body["message"]) == ("Warning", "RolledBack", "m")
    assert body["source"] == {"component": "greenlight"}
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2025-01-02T03:04:05Z"
    assert body["metadata"]["name"].startswith("web.")
    assert "generateName" not in body["metadata"]


def test_event_names_are_unique_and_long_texts_are_cut() -> None:
    now = datetime.datetime.now(datetime.UTC)
    bodies = [
        events.build(TARGET, event_type="Normal", reason="R" * 500, message="m" * 5000, now=now)
        for _ in range(50)
    ]
    assert len({body["metadata"]["name"] for body in bodies}) == 50
    assert len(bodies[0]["reason"]) == events.MAX_REASON
    assert len(bodies[0]["message"]) == events.MAX_MESSAGE


def test_a_revision_keeps_its_template_number_and_hash() -> None:
    body = revisions.build(TARGET, revision=3, template=template("web:3"))
    assert body["metadata"]["name"] == "web-r3"
    assert body["revision"] == 3
    assert revisions.template_of(body) == template("web:3")
    assert body["metadata"]["labels"][models.LABEL_RELEASE] == "web"
    assert body["metadata"]["labels"][models.LABEL_REVISION] == "3"
    assert body["metadata"]["ownerReferences"] == [OWNER]
