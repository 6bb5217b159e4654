"""The rollout decision through whole releases, tick by tick, in the toy world of rollout_world."""

from __future__ import annotations

import pytest

from greenlight import models
from greenlight.models import Color, GatePhase, Outcome, Phase
from greenlight.rollout.actions import ServiceRole
from tests.unit.rollout_world import World, spec_of

GATES = [
    {
        "name": "readyz",
        "http": {"path": "/readyz"},
        "successThreshold": 2,
        "failureThreshold": 2,
        "intervalSeconds": 1,
    }
]
VERIFY_SECONDS = 5
VERIFY = {
    "durationSeconds": VERIFY_SECONDS,
    "gates": [
        {
            "name": "errors",
            "http": {"path": "/healthz"},
            "failureThreshold": 2,
            "intervalSeconds": 1,
        }
    ],
}


def released(world: World) -> World:
    world.run_until_phase(Phase.SUCCEEDED, Phase.FAILED, Phase.ROLLED_BACK)
    return world


def test_first_release_goes_to_blue_and_switches_after_gates() -> None:
    world = released(World(spec=spec_of(gates=GATES)))
    assert world.status.phase is Phase.SUCCEEDED
    assert (world.status.active_color, world.status.stable_revision) == ("blue", 1)
    assert world.active_selector is Color.BLUE
    assert world.status.history[0].outcome is Outcome.SUCCEEDED
    assert "SwitchService" in world.event_reasons()
    assert world.violations == []


def test_second_release_goes_to_the_other_colour_and_scales_the_old_one_down() -> None:
    world = released(World(spec=spec_of(gates=GATES, strategy={"scaleDownDelaySeconds": 3})))
    world.update_spec(spec_of("app:2", gates=GATES, strategy={"scaleDownDelaySeconds": 3}))
    released(world)
    assert (world.status.active_color, world.status.stable_revision) == ("green", 2)
    assert world.status.scale_down_color == "blue"
    assert world.deployments[Color.BLUE].replicas == 1  # still warm
    world.run(10, until=lambda w: not w.status.scale_down_color)
    assert world.deployments[Color.BLUE].replicas == 0
    assert "ScaledDown" in world.event_reasons()
    assert world.violations == []


def test_scale_down_waits_for_endpoints_even_after_the_delay() -> None:
    world = released(
        World(spec=spec_of(strategy={"scaleDownDelaySeconds": 0}), endpoint_lag_ticks=6)
    )
    world.update_spec(spec_of("app:2", strategy={"scaleDownDelaySeconds": 0}))
    released(world)
    switched = world.switched_at_tick
    world.run(20, until=lambda w: w.deployments[Color.BLUE].replicas == 0)
    assert switched is not None
    assert world.tick - switched >= 6
    assert world.violations == []


def test_failing_pre_switch_gate_keeps_traffic_on_stable() -> None:
    def health(revision: int, role: ServiceRole, gate: str, tick: int) -> bool:
        return revision == 1

    world = released(World(spec=spec_of(gates=GATES), gate_health=health))
    world.update_spec(spec_of("app:2", gates=GATES))
    released(world)
    assert world.status.phase is Phase.ROLLED_BACK
    assert world.active_selector is Color.BLUE
    assert world.status.gates[0].phase is GatePhase.FAILED
    assert "readyz" in world.status.message
    assert world.status.history[0].outcome is Outcome.ROLLED_BACK
    world.run(5)
    assert world.deployments[Color.GREEN].replicas == 0
    assert world.violations == []


def test_never_ready_hits_the_progress_deadline() -> None:
    world = released(
        World(
            spec=spec_of(strategy={"progressDeadlineSeconds": 5}),
            ready_after=lambda revision: None if revision == 2 else 1,
        )
    )
    world.update_spec(spec_of("app:2", strategy={"progressDeadlineSeconds": 5}))
    released(world)
    assert world.status.phase is Phase.ROLLED_BACK
    assert "did not become ready within 5s" in world.status.message
    assert world.active_selector is Color.BLUE
    assert world.violations == []


def test_first_release_that_never_gets_ready_fails_without_traffic() -> None:
    world = released(
        World(
            spec=spec_of(strategy={"progressDeadlineSeconds": 3}), ready_after=lambda revision: None
        )
    )
    assert world.status.phase is Phase.FAILED
    assert world.active_selector is None
    assert world.violations == []


def test_post_switch_failure_moves_traffic_back_while_warm() -> None:
    def health(revision: int, role: ServiceRole, gate: str, tick: int) -> bool:
        return not (revision == 2 and role is ServiceRole.ACTIVE)

    world = released(World(spec=spec_of(verification=VERIFY), gate_health=health))
    world.update_spec(spec_of("app:2", verification=VERIFY))
    world.run_until_phase(Phase.POST_VERIFICATION)
    assert world.active_selector is Color.GREEN
    released(world)
    assert world.status.phase is Phase.ROLLED_BACK
    assert world.active_selector is Color.BLUE
    assert world.status.active_color == "blue"
    assert "SwitchBack" in world.event_reasons()
    assert world.violations == []


def test_post_verification_lasts_its_duration() -> None:
    world = World(spec=spec_of(verification=VERIFY))
    world.run_until_phase(Phase.POST_VERIFICATION)
    entered = world.tick
    released(world)
    assert world.status.phase is Phase.SUCCEEDED
    assert world.tick - entered >= VERIFY_SECONDS


def test_manual_promotion_waits_for_the_annotation() -> None:
    strategy = {"autoPromote": False}
    world = released(World(spec=spec_of(strategy=strategy)))
    world.run_until_phase(Phase.AWAITING_PROMOTION)
    assert world.status.phase is Phase.AWAITING_PROMOTION
    world.run(5)
    assert world.active_selector is None
    world.annotate(models.ANNOTATION_PROMOTE)
    released(world)
    assert world.status.phase is Phase.SUCCEEDED
    assert models.ANNOTATION_PROMOTE not in world.annotations
    assert world.violations == []


def test_early_promote_annotation_does_not_skip_gates() -> None:
    patient = [{**GATES[0], "failureThreshold": 10}]
    world = World(
        spec=spec_of(gates=patient, strategy={"autoPromote": False}),
        gate_health=lambda r, role, g, tick: tick > 6,
    )
    world.annotate(models.ANNOTATION_PROMOTE)
    released(world)
    assert world.status.phase is Phase.SUCCEEDED
    assert world.violations == []


def test_abort_in_post_verification_returns_to_stable() -> None:
    world = released(World(spec=spec_of(verification=VERIFY)))
    world.update_spec(spec_of("app:2", verification=VERIFY))
    world.run_until_phase(Phase.POST_VERIFICATION)
    world.annotate(models.ANNOTATION_ABORT)
    world.step()
    assert world.status.phase is Phase.ABORTED
    assert world.active_selector is Color.BLUE
    assert models.ANNOTATION_ABORT not in world.annotations
    assert world.status.history[0].outcome is Outcome.ABORTED
    assert world.violations == []


def test_abort_when_idle_changes_nothing() -> None:
    world = released(World(spec=spec_of()))
    world.annotate(models.ANNOTATION_ABORT)
    world.step()
    assert world.status.phase is Phase.SUCCEEDED
    assert models.ANNOTATION_ABORT not in world.annotations


def test_rollback_to_a_warm_revision_is_instant() -> None:
    world = released(World(spec=spec_of(strategy={"scaleDownDelaySeconds": 60})))
    world.update_spec(spec_of("app:2", strategy={"scaleDownDelaySeconds": 60}))
    released(world)
    world.annotate(models.ANNOTATION_ROLLBACK_TO, "1")
    world.step()
    assert world.status.phase is Phase.SUCCEEDED
    assert (world.status.stable_revision, world.active_selector) == (1, Color.BLUE)
    assert world.status.scale_down_color == "green"
    assert world.violations == []


def test_rollback_to_a_cold_revision_goes_through_the_gates() -> None:
    world = released(World(spec=spec_of(gates=GATES, strategy={"scaleDownDelaySeconds": 0})))
    for image in ("app:2", "app:3"):
        world.update_spec(spec_of(image, gates=GATES, strategy={"scaleDownDelaySeconds": 0}))
        released(world)
    world.run(5)
    world.annotate(models.ANNOTATION_ROLLBACK_TO, "1")
    world.step()
    assert world.status.phase is Phase.PROGRESSING
    released(world)
    assert (world.status.phase, world.status.stable_revision) == (Phase.SUCCEEDED, 1)
    assert world.stored[1] == "app:1"
    assert world.violations == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [("99", "RollbackRefused")] + [(v, "ActionIgnored") for v in ("abc", "0", "-1", "", "³")],
)
def test_bad_rollback_annotation_is_refused_and_removed(value: str, reason: str) -> None:
    world = released(World(spec=spec_of()))
    world.annotate(models.ANNOTATION_ROLLBACK_TO, value)
    world.step()
    assert world.status.phase is Phase.SUCCEEDED
    assert reason in world.event_reasons()
    assert models.ANNOTATION_ROLLBACK_TO not in world.annotations


def test_new_spec_supersedes_an_unfinished_release_without_touching_stable() -> None:
    world = released(World(spec=spec_of(gates=GATES), gate_health=lambda r, role, g, t: r != 2))
    world.update_spec(spec_of("app:2", gates=GATES))
    world.run_until_phase(Phase.VERIFYING)
    world.update_spec(spec_of("app:3", gates=GATES))
    released(world)
    assert (world.status.phase, world.status.stable_revision) == (Phase.SUCCEEDED, 3)
    outcomes = {entry.revision: entry.outcome for entry in world.status.history}
    assert outcomes == {1: Outcome.SUCCEEDED, 2: Outcome.SUPERSEDED, 3: Outcome.SUCCEEDED}
    assert world.violations == []


def test_new_spec_during_post_verification_returns_traffic_first() -> None:
    world = released(World(spec=spec_of(verification=VERIFY)))
    world.update_spec(spec_of("app:2", verification=VERIFY))
    world.run_until_phase(Phase.POST_VERIFICATION)
    world.update_spec(spec_of("app:3", verification=VERIFY))
    world.step()
    assert world.active_selector is Color.BLUE
    assert world.status.current_revision == 3
    released(world)
    assert world.status.stable_revision == 3
    assert world.violations == []


def test_replica_change_scales_without_a_new_revision() -> None:
    world = released(World(spec=spec_of()))
    world.update_spec(spec_of(replicas=4))
    world.step()
    assert world.status.current_revision == 1
    assert world.deployments[Color.BLUE].replicas == 4


def test_history_is_trimmed_and_revisions_pruned() -> None:
    world = World(spec=spec_of(revisionHistoryLimit=2))
    for n in range(1, 5):
        world.update_spec(spec_of(f"app:{n}", revisionHistoryLimit=2))
        released(world)
    assert [entry.revision for entry in world.status.history] == [4, 3]
    world.step()
    assert set(world.stored) == {3, 4}


def test_restart_mid_release_resumes_from_status_alone() -> None:
    world = released(World(spec=spec_of(gates=GATES)))
    world.update_spec(spec_of("app:2", gates=GATES))
    world.run_until_phase(Phase.VERIFYING)
    world.step()
    gates_before = world.status.gates
    # A restart keeps nothing but what the cluster stores: status and objects. The world is
    # exactly that, so simply continuing proves the decision needs nothing else.
    restored = models.ReleaseStatus.model_validate(
        world.status.model_dump(by_alias=True, mode="json")
    )
    assert restored == world.status
    assert gates_before[0].successes >= 1
    world.status = restored
    released(world)
    assert world.status.stable_revision == 2
    assert world.violations == []
