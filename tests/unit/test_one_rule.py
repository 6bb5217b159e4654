"""Rules the operator, the service and the CLI share, each pushed through every user of it:
reading a Release's status, listing a pod template's images, and which revision is warm."""

from __future__ import annotations

from typing import Any

import pytest

from greenlight import models, naming, user_actions
from greenlight.cli import output
from greenlight.cli.exits import CommandFailed
from greenlight.cli.output import status_of
from greenlight.models import Color, Outcome, Phase
from greenlight_api import records
from tests.unit.rollout_world import World, spec_of


def body(status: Any = None, template: Any = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": {"template": template},
        "status": status,
    }


def test_every_reader_reads_a_status_alike() -> None:
    good = body({"phase": "Verifying", "currentRevision": 2, "waiting": {"reason": "GatePasses"}})
    assert models.read_status(good) == (status_of(good), "")
    assert records.from_body(good).status == status_of(good)
    assert status_of(good).waiting == models.Waiting(reason=models.WaitingReason.GATE_PASSES)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"phase": "Sleeping"}, "status.phase: Input should be"),
        ({"gates": [{"phase": "Passed"}]}, "status.gates.0.name: Field required"),
        ("text", "status: Input should be"),
    ],
)
def test_an_unreadable_status_is_named_the_same_way_everywhere(raw: Any, problem: str) -> None:
    status, found = models.read_status(body(raw))
    assert status == models.ReleaseStatus()  # the operator starts from an empty status
    assert found.startswith(problem)
    assert records.from_body(body(raw)).status_error == f"status unreadable: {found}"
    with pytest.raises(CommandFailed, match=f"cannot read \\({found[:20]}"):
        status_of(body(raw))


@pytest.mark.parametrize(
    ("template", "images"),
    [
        ({"spec": {"containers": [{"image": "a:1"}, {"image": "b:2"}]}}, ["a:1", "b:2"]),
        ({"spec": {"containers": [{"name": "x"}, {"image": "b:2"}, "junk"]}}, ["b:2"]),
        ({"spec": {"containers": "junk"}}, []),
        ("junk", []),
        (None, []),
    ],
)
def test_every_list_of_images_is_the_same(template: Any, images: list[str]) -> None:
    assert list(naming.images_of(template)) == images
    assert output.spec_images(body(template=template)) == images
    assert records.from_body(body(template=template)).summary.images == images


@pytest.mark.parametrize(
    ("template", "port"),
    [
        ({"spec": {"containers": [{"ports": [{"containerPort": 8080}]}]}}, 8080),
        ({"spec": {"containers": [{"ports": {"containerPort": 8080}}]}}, None),
        ({"spec": {"containers": [{"ports": [{"containerPort": True}]}]}}, None),
        ({"spec": {"containers": []}}, None),
        ({}, None),
    ],
)
def test_the_first_container_port_is_read_leniently(template: Any, port: int | None) -> None:
    assert naming.first_container_port(template) == port


def entry(revision: int, color: str, outcome: Outcome) -> models.HistoryEntry:
    return models.HistoryEntry(revision=revision, color=color, outcome=outcome)


def test_a_colour_redeployed_since_is_not_warm_for_the_older_revision() -> None:
    # Revision 3 into blue failed: blue waits for its scale-down, but it runs 3, not 1.
    status = models.ReleaseStatus(
        phase=Phase.ROLLED_BACK,
        active_color="green",
        scale_down_color="blue",
        history=[
            entry(3, "blue", Outcome.ROLLED_BACK),
            entry(2, "green", Outcome.SUCCEEDED),
            entry(1, "blue", Outcome.SUCCEEDED),
        ],
    )
    assert user_actions.warm_color(status, 1) is None
    assert "through the gates again" in user_actions.plan_rollback("web", status, 1).description
    # What the operator observes says the same.
    assert user_actions.warm_color(status, 1, {Color.BLUE: 3, Color.GREEN: 2}) is None
    # A revision that never succeeded is never warm, even in a colour still running it.
    assert user_actions.warm_color(status, 3) is None
    assert user_actions.warm_color(status, 3, {Color.BLUE: 3}) is None


def test_the_cli_and_the_operator_agree_on_a_warm_revision() -> None:
    strategy = {"scaleDownDelaySeconds": 60}
    world = World(spec=spec_of(strategy=strategy))
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", strategy=strategy))
    world.run_until_phase(Phase.SUCCEEDED)
    plan = user_actions.plan_rollback("web", world.status, 1)
    assert "at once, its colour is still warm" in plan.description
    world.annotate(models.ANNOTATION_ROLLBACK_TO, "1")
    world.step()
    assert (world.status.phase, world.status.active_color) == (Phase.SUCCEEDED, "blue")
    assert world.violations == []


@pytest.mark.parametrize(("phase", "needed"), [("Verifying", 2), ("PostVerification", 5)])
def test_a_gate_name_both_lists_use_counts_as_the_gate_being_run(phase: str, needed: int) -> None:
    gate = {"name": "readyz", "http": {"path": "/readyz"}}
    raw_spec = {
        "template": {"spec": {"containers": [{"name": "app", "image": "app:1"}]}},
        "gates": [{**gate, "successThreshold": 2}],
        "verification": {"durationSeconds": 10, "gates": [{**gate, "successThreshold": 5}]},
    }
    raw_status = {"phase": phase, "gates": [{"name": "readyz", "phase": "Running"}]}
    release = {**body(raw_status), "spec": raw_spec}
    status = status_of(release)
    assert output.gate_thresholds(release, status) == {"readyz": needed}
    assert records.from_body(release).gate_progress()[0].success_threshold == needed
    spec = models.ReleaseSpec.model_validate(raw_spec)
    after = phase == "PostVerification"
    assert spec.gates_by_name(after_switch=after)["readyz"].success_threshold == needed


def test_a_colour_status_does_not_know_is_never_warm() -> None:
    status = models.ReleaseStatus(
        scale_down_color="purple", history=[entry(1, "purple", Outcome.SUCCEEDED)]
    )
    assert user_actions.warm_color(status, 1) is None
