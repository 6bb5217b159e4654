"""Events recorded in status with their transitions, and the verification window starting when
traffic has moved: what a restart between the status write and the rest of a tick keeps."""

from __future__ import annotations

from greenlight import models
from greenlight.models import Phase
from greenlight.rollout import actions as act
from greenlight.rollout import events as recorded_events
from greenlight.rollout.decide import decide, needs_attention
from tests.unit.rollout_world import World, spec_of

GATES = [{"name": "ready", "http": {"path": "/"}, "successThreshold": 2, "intervalSeconds": 1}]
VERIFY = {
    "durationSeconds": 3,
    "gates": [{"name": "smoke", "http": {"path": "/healthz"}, "intervalSeconds": 1}],
}
FAST = {"scaleDownDelaySeconds": 0, "progressDeadlineSeconds": 30}


def crash_after_status_write(world: World, *, keep_service: bool = False) -> None:
    """One tick whose status is written, and then nothing else: no action, no Event (with
    `keep_service`, the actions but the active Service's write still happen)."""
    decision = decide(world.spec, world.status, world.observe(world.probe()))
    world.status_before, world.status = world.status, decision.status
    if keep_service:
        for action in decision.actions:
            if not isinstance(action, act.PostEvent) and not (
                isinstance(action, act.PointService) and action.role is act.ServiceRole.ACTIVE
            ):
                world.apply(action)
    world.tick += 1


def to_switch(world: World) -> None:
    """Runs until the next tick decides the switch."""
    world.run(100, until=lambda w: w.status.gates and w.status.gates[0].successes == 1)
    assert world.status.phase is Phase.VERIFYING


def test_events_of_a_tick_that_crashed_after_its_status_write_are_posted_after_restart() -> None:
    world = World(spec=spec_of(gates=GATES, verification=VERIFY, strategy=FAST))
    to_switch(world)
    crash_after_status_write(world)
    assert world.status.phase is Phase.POST_VERIFICATION
    recorded = [event.reason for event in world.status.pending_events]
    assert recorded == ["GatePassed", "SwitchService", "PostVerification"]
    assert needs_attention(generation=world.generation, status=world.status, annotations={})
    world.run_until_phase(Phase.SUCCEEDED)
    world.run(3)
    reasons = world.event_reasons()
    for reason in ("SwitchService", "PostVerification", "Succeeded"):
        assert reasons.count(reason) == 1, reasons
    assert reasons.count("GatePassed") == 2  # ready, then smoke
    sequences = [event.sequence for event in world.events]
    assert sequences == sorted(set(sequences)) and sequences[0] == 1
    assert world.status.pending_events == []
    assert world.status.event_sequence == sequences[-1]
    assert not needs_attention(generation=world.generation, status=world.status, annotations={})
    assert "ServiceRestored" not in reasons
    assert world.violations == []


def test_an_event_keeps_the_time_of_its_transition() -> None:
    world = World(spec=spec_of(gates=GATES, strategy=FAST))
    to_switch(world)
    decided_at = world.now
    crash_after_status_write(world)
    world.run(3)
    switch = next(event for event in world.events if event.reason == "SwitchService")
    assert switch.at == decided_at


def test_marking_posted_keeps_what_was_not_posted_in_order() -> None:
    world = World(spec=spec_of(gates=GATES, strategy=FAST))
    to_switch(world)
    crash_after_status_write(world)
    pending = recorded_events.to_post(world.status)
    left = recorded_events.mark_posted(world.status, [pending[0].sequence])
    assert [e.sequence for e in recorded_events.to_post(left)] == [e.sequence for e in pending[1:]]


def test_pending_events_are_bounded() -> None:
    world = World(spec=spec_of(gates=GATES, strategy=FAST))
    for _ in range(40):  # Events never posted, many ticks long
        crash_after_status_write(world)
        world.update_spec(spec_of(f"app:{world.tick}", gates=GATES, strategy=FAST))
    assert len(world.status.pending_events) == recorded_events.MAX_PENDING
    newest = world.status.pending_events[-1].sequence
    assert newest == world.status.event_sequence


def test_the_verification_window_starts_when_the_active_service_is_seen_switched() -> None:
    world = World(spec=spec_of(gates=GATES, verification=VERIFY, strategy=FAST))
    to_switch(world)
    crash_after_status_write(world, keep_service=True)
    assert world.status.phase is Phase.POST_VERIFICATION
    assert world.status.verification_started_at is None
    # Three more ticks without the Service's write (an outage): the window has not begun.
    for _ in range(3):
        crash_after_status_write(world, keep_service=True)
    assert world.status.verification_started_at is None
    assert world.status.phase is Phase.POST_VERIFICATION
    world.step()  # the Service is written
    assert world.status.verification_started_at is None
    seen_at = world.now
    world.step()  # the first tick that sees it
    assert world.status.verification_started_at == seen_at
    world.run_until_phase(Phase.SUCCEEDED)
    succeeded_at = world.status.phase_started_at
    assert succeeded_at is not None
    assert (succeeded_at - seen_at).total_seconds() >= VERIFY["durationSeconds"]
    assert world.violations == []


def test_a_switch_never_seen_fails_the_release_at_the_progress_deadline() -> None:
    world = World(spec=spec_of(gates=GATES, verification=VERIFY, strategy=FAST))
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", gates=GATES, verification=VERIFY, strategy=FAST))
    to_switch(world)
    for _ in range(FAST["progressDeadlineSeconds"] + 2):
        crash_after_status_write(world, keep_service=True)
        if world.status.phase is not Phase.POST_VERIFICATION:
            break
    assert world.status.phase is Phase.ROLLED_BACK, world.status.message
    assert "did not select green" in world.status.message
    assert world.status.active_color == "blue"


def test_a_first_release_switching_reports_no_restored_service() -> None:
    world = World(spec=spec_of(gates=GATES, strategy=FAST))
    to_switch(world)
    decision = decide(world.spec, world.status, world.observe(world.probe()))
    reasons = [a.reason for a in decision.actions if isinstance(a, act.PostEvent)]
    assert "SwitchService" in reasons and "ServiceRestored" not in reasons


def test_a_status_from_before_pending_events_reads_as_none_pending() -> None:
    stored = models.ReleaseStatus.model_validate({"phase": "Succeeded"})
    assert stored.pending_events == [] and stored.event_sequence == 0
    assert not needs_attention(generation=0, status=stored, annotations={})


def test_an_absent_verification_is_an_empty_one_and_the_message_says_what_it_waits_for() -> None:
    assert spec_of().verifying == models.VerificationSpec(duration_seconds=0, gates=[])
    assert spec_of(verification=VERIFY).verifying.duration_seconds == 3
    messages = {}
    for name, fields in (("none", {}), ("verify", {"verification": VERIFY})):
        world = World(spec=spec_of(gates=GATES, strategy=FAST, **fields))
        world.run_until_phase(Phase.POST_VERIFICATION)
        messages[name] = world.status.message
        assert [gate.name for gate in world.status.gates] == (["smoke"] if fields else [])
        world.run_until_phase(Phase.SUCCEEDED)
    assert messages["none"].endswith("waiting to see the active Service select it")
    assert messages["verify"].endswith("verifying for 3s")
