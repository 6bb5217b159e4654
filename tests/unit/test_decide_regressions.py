"""Regressions found by review: each scenario once broke an invariant or left work undone."""

from __future__ import annotations

import dataclasses

from greenlight import models, user_actions
from greenlight.models import Color, ConditionReason, Outcome, Phase
from greenlight.rollout import actions as act
from greenlight.rollout.actions import ServiceRole
from greenlight.rollout.decide import decide, needs_attention, wants_endpoints
from greenlight.rollout.observation import ServiceState, SpecProblem
from tests.unit.rollout_world import World, spec_of

GATES = [
    {
        "name": "ready",
        "http": {"path": "/"},
        "successThreshold": 1,
        "failureThreshold": 1,
        "intervalSeconds": 1,
    }
]
NO_DELAY = {"scaleDownDelaySeconds": 0}


def test_a_warm_revision_that_failed_its_gates_is_not_switched_to_instantly() -> None:
    world = World(
        spec=spec_of("app:1", gates=GATES, strategy=NO_DELAY),
        gate_health=lambda rev, role, gate, tick: rev != 2,
    )
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", gates=GATES, strategy=NO_DELAY))
    # As the operator does: slices are only read once the scale-down is due, so the failed
    # colour is still up on the tick after the rollback.
    for _ in range(20):
        observation = world.observe(world.probe())
        if not wants_endpoints(world.status, world.now):
            observation = dataclasses.replace(observation, active_endpoint_colors=None)
        decision = decide(world.spec, world.status, observation)
        world.status_before, world.status = world.status, decision.status
        for action in decision.actions:
            world.apply(action)
        world.tick += 1
        if world.status.phase is Phase.ROLLED_BACK:
            break
    assert world.deployments[Color.GREEN].replicas == 1  # still warm
    world.annotate(models.ANNOTATION_ROLLBACK_TO, "2")
    world.step()
    world.run_until_phase(Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED)
    assert world.violations == []
    assert world.status.stable_revision == 1
    assert world.active_selector is Color.BLUE


def test_revision_numbers_never_repeat_even_past_the_history_limit() -> None:
    fields = {"revisionHistoryLimit": 2, "gates": GATES, "strategy": NO_DELAY}
    world = World(
        spec=spec_of("app:1", **fields),
        gate_health=lambda rev, role, gate, tick: not (rev == 1 and tick > 3),
    )
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", **fields))
    world.run_until_phase(Phase.SUCCEEDED)
    world.run(10, until=lambda w: not w.status.scale_down_color)
    for _ in range(2):  # two rollbacks to 1, both failing: history no longer lists 2
        world.annotate(models.ANNOTATION_ROLLBACK_TO, "1")
        world.step()
        world.run_until_phase(Phase.ROLLED_BACK)
    world.update_spec(spec_of("app:3", **fields))
    world.step()
    assert world.status.current_revision == 3
    assert world.stored[2] == "app:2"  # the live revision's template is untouched
    assert world.violations == []


def test_a_colour_left_with_traffic_by_a_failed_first_release_is_scaled_down_later() -> None:
    verify = {
        "durationSeconds": 1,
        "gates": [{"name": "post", "http": {"path": "/"}, "failureThreshold": 1}],
    }
    world = World(
        spec=spec_of("app:1", verification=verify, strategy=NO_DELAY),
        gate_health=lambda rev, role, gate, tick: not (rev == 1 and role is ServiceRole.ACTIVE),
    )
    world.run_until_phase(Phase.FAILED)
    assert world.active_selector is Color.BLUE
    world.update_spec(spec_of("app:2", verification=verify, strategy=NO_DELAY))
    world.run_until_phase(Phase.SUCCEEDED)
    world.run(20, until=lambda w: w.deployments[Color.BLUE].replicas == 0)
    assert world.deployments[Color.BLUE].replicas == 0
    assert world.violations == []


def test_a_flapping_post_switch_gate_ends_the_release_and_returns_traffic() -> None:
    verify = {
        "durationSeconds": 5,
        "gates": [
            {
                "name": "post",
                "http": {"path": "/"},
                "successThreshold": 2,
                "failureThreshold": 2,
                "intervalSeconds": 1,
            }
        ],
    }

    def health(revision: int, role: ServiceRole, gate: str, tick: int) -> bool:
        return revision == 1 or role is ServiceRole.PREVIEW or tick % 2 == 0

    world = World(spec=spec_of("app:1", verification=verify), gate_health=health)
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", verification=verify))
    world.run_until_phase(Phase.ROLLED_BACK, limit=40)
    assert world.status.phase is Phase.ROLLED_BACK
    assert "did not pass within the verification window" in world.status.message
    assert world.active_selector is Color.BLUE


def test_a_promote_for_a_superseded_revision_does_not_promote_the_next() -> None:
    manual = {"autoPromote": False, **NO_DELAY}
    world = World(spec=spec_of("app:1", gates=GATES, strategy=manual))
    world.annotate(models.ANNOTATION_PROMOTE)
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", gates=GATES, strategy=manual))
    world.step()
    world.annotate(models.ANNOTATION_PROMOTE)
    world.step()
    world.update_spec(spec_of("app:3", gates=GATES, strategy=manual))
    world.run_until_phase(Phase.SUCCEEDED, Phase.AWAITING_PROMOTION)
    assert (world.status.phase, world.status.current_revision) == (Phase.AWAITING_PROMOTION, 3)
    assert "ActionIgnored" in world.event_reasons()


def test_a_promote_applied_with_a_new_template_when_idle_waits_for_it() -> None:
    manual = {"autoPromote": False, **NO_DELAY}
    world = World(spec=spec_of("app:1", strategy=manual))
    world.annotate(models.ANNOTATION_PROMOTE)
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", strategy=manual))
    world.annotate(models.ANNOTATION_PROMOTE)
    world.run_until_phase(Phase.SUCCEEDED)
    assert world.status.stable_revision == 2


def test_fixing_an_invalid_spec_does_not_undo_an_abort() -> None:
    manual = {"autoPromote": False, **NO_DELAY}
    world = World(spec=spec_of("app:1", strategy=manual))
    world.annotate(models.ANNOTATION_PROMOTE)
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", strategy=manual))
    world.run_until_phase(Phase.AWAITING_PROMOTION)
    world.annotate(models.ANNOTATION_ABORT)
    world.run_until_phase(Phase.ABORTED)
    invalid = dataclasses.replace(
        world.observe(()), spec_problem=SpecProblem(field="spec.gates[0].tcp", message="x")
    )
    world.status = decide(world.spec, world.status, invalid).status
    assert world.status.phase is Phase.FAILED
    world.generation += 1
    world.run(3)
    assert world.status.phase is Phase.ABORTED
    assert world.status.history[0].outcome is Outcome.ABORTED


def test_fixing_an_invalid_spec_resumes_the_release_it_interrupted() -> None:
    world = World(spec=spec_of("app:1", gates=GATES, strategy=NO_DELAY))
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", gates=GATES, strategy=NO_DELAY))
    world.step()
    invalid = dataclasses.replace(
        world.observe(()), spec_problem=SpecProblem(field="spec.gates[0].tcp", message="x")
    )
    world.status = decide(world.spec, world.status, invalid).status
    assert world.status.phase is Phase.FAILED
    world.generation += 1
    world.run_until_phase(Phase.SUCCEEDED)
    assert world.status.stable_revision == 2


def test_an_object_of_another_owner_that_goes_away_resumes_the_release_without_a_spec_change() -> (
    None
):
    def interrupted_by(problem: SpecProblem) -> World:
        world = World(spec=spec_of("app:1", gates=GATES, strategy=NO_DELAY))
        world.run_until_phase(Phase.SUCCEEDED)
        world.update_spec(spec_of("app:2", gates=GATES, strategy=NO_DELAY))
        world.step()
        observed = dataclasses.replace(world.observe(()), spec_problem=problem)
        world.status = decide(world.spec, world.status, observed).status
        assert world.status.phase is Phase.FAILED
        return world

    in_the_way = SpecProblem(
        field="metadata.name", message="x", reason=ConditionReason.FOREIGN_OBJECT
    )
    world = interrupted_by(in_the_way)
    invalid = {c.type: c for c in world.status.conditions}["InvalidSpec"]
    assert invalid.reason == ConditionReason.FOREIGN_OBJECT
    world.run_until_phase(Phase.SUCCEEDED)  # same generation: it was gone, nothing changed
    assert world.status.stable_revision == 2
    # A problem of the spec itself would be found again: it waits for a change of the spec.
    world = interrupted_by(SpecProblem(field="spec.gates[0].tcp", message="x"))
    world.run(5)
    assert world.status.phase is Phase.FAILED


def test_an_action_annotation_that_is_not_true_is_removed_and_the_release_goes_idle() -> None:
    world = World(spec=spec_of("app:1"))
    world.run_until_phase(Phase.SUCCEEDED)
    world.run(5, until=lambda w: not w.status.scale_down_color and not w.status.actions_pending)
    notes = {models.ANNOTATION_PROMOTE: "false"}
    observation = dataclasses.replace(
        world.observe(()), annotations=user_actions.read_actions(notes)
    )
    decision = decide(world.spec, world.status, observation)
    assert act.RemoveAnnotation(key=models.ANNOTATION_PROMOTE) in decision.actions
    assert any(
        isinstance(a, act.PostEvent) and a.reason == "ActionIgnored" for a in decision.actions
    )


def test_a_release_with_changes_in_flight_keeps_ticking_until_they_are_confirmed() -> None:
    world = World(spec=spec_of("app:1", strategy=NO_DELAY))
    world.run_until_phase(Phase.POST_VERIFICATION)
    # The tick that decided the switch also asked for it: it must tick once more (and it
    # says Succeeded only once it has seen the Service select the new colour).
    assert world.status.actions_pending
    assert needs_attention(generation=world.generation, status=world.status, annotations={})
    world.run_until_phase(Phase.SUCCEEDED)
    world.run(5, until=lambda w: not w.status.actions_pending)
    assert not needs_attention(generation=world.generation, status=world.status, annotations={})


def test_passed_post_switch_gates_with_the_service_seen_elsewhere_wait_rather_than_crash() -> None:
    # Every post-switch gate passed, but the ticks past the window and its grace see the active
    # Service select the other colour (edited by hand, say; the probes still answer): the
    # decision waits for the Service to be seen switched. It used to raise StopIteration
    # looking for a gate that had not passed.
    verification = {"durationSeconds": 2, "gates": GATES}
    world = World(spec=spec_of("app:1", verification=verification, strategy=NO_DELAY))
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", verification=verification, strategy=NO_DELAY))
    world.run_until_phase(Phase.POST_VERIFICATION)
    world.run(1)
    assert all(gate.phase is models.GatePhase.PASSED for gate in world.status.gates)
    active = Color(str(world.status.active_color))
    for _ in range(6):  # one tick a second, past the window of 2 s and the grace of 1 s
        seen_elsewhere = dataclasses.replace(
            world.observe(world.probe()),
            active_service=ServiceState(exists=True, selected_color=active.other),
        )
        world.status = decide(world.spec, world.status, seen_elsewhere).status
        world.tick += 1
    assert world.status.phase is Phase.POST_VERIFICATION
    assert world.status.waiting is not None
    assert world.status.waiting.reason is models.WaitingReason.TRAFFIC_SETTLING
