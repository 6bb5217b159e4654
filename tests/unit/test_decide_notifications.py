"""What to notify, decided with the transitions: each subscribed transition of a revision is
recorded once (in `status.notified`) and handed to delivery once, whatever the ticks and
restarts that follow."""

from __future__ import annotations

from greenlight import models
from greenlight.models import Phase
from greenlight.rollout import actions as act
from greenlight.rollout import notifications
from greenlight.rollout.actions import ServiceRole
from greenlight.rollout.decide import decide, needs_attention
from tests.unit.rollout_world import World, spec_of

VERIFY = {
    "durationSeconds": 2,
    "gates": [
        {
            "name": "errors",
            "http": {"path": "/healthz"},
            "failureThreshold": 1,
            "intervalSeconds": 1,
        }
    ],
}
EVERYTHING = [{"channel": "team", "on": [str(t) for t in models.NotifyOn]}]


def keys(world: World) -> list[str]:
    return [sent.key for sent in world.sent]


def test_a_release_notifies_its_switch_and_success_once_each() -> None:
    world = World(spec=spec_of(notifications=EVERYTHING))
    world.run_until_phase(Phase.SUCCEEDED)
    world.run(5)
    assert keys(world) == ["1:Switched:team", "1:Succeeded:team"]
    succeeded = world.sent[1]
    assert succeeded.images == ["app:1"]
    assert succeeded.phase == "Succeeded"
    assert succeeded.revision == 1
    assert succeeded.started_at is not None and succeeded.time is not None
    assert world.status.pending_notifications == []
    assert world.status.notified == ["1:Switched:team", "1:Succeeded:team"]


def test_only_the_subscribed_transitions_go_to_each_channel() -> None:
    subscriptions = [
        {"channel": "ops", "on": ["Succeeded"]},
        {"channel": "team", "on": ["Switched", "AwaitingPromotion"]},
    ]
    world = World(spec=spec_of(notifications=subscriptions, strategy={"autoPromote": False}))
    world.run_until_phase(Phase.AWAITING_PROMOTION)
    world.annotate(models.ANNOTATION_PROMOTE)
    world.run_until_phase(Phase.SUCCEEDED)
    assert keys(world) == ["1:AwaitingPromotion:team", "1:Switched:team", "1:Succeeded:ops"]


def test_a_rollback_names_the_failing_gate_and_its_last_result() -> None:
    def health(revision: int, role: ServiceRole, gate: str, tick: int) -> bool:
        return not (revision == 2 and role is ServiceRole.ACTIVE)

    spec = spec_of(verification=VERIFY, notifications=EVERYTHING)
    world = World(spec=spec, gate_health=health)
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", verification=VERIFY, notifications=EVERYTHING))
    world.run_until_phase(Phase.ROLLED_BACK)
    assert keys(world)[2:] == ["2:Switched:team", "2:RolledBack:team"]
    rolled_back = world.sent[-1]
    assert rolled_back.images == ["app:2"]
    assert rolled_back.gate == "errors"
    assert rolled_back.gate_result == "503"
    assert rolled_back.reason == world.status.message


def test_a_tick_that_crashed_after_its_status_write_leaves_its_notifications_pending() -> None:
    world = World(spec=spec_of(notifications=EVERYTHING))
    world.run(50, until=lambda w: w.status.phase is Phase.POST_VERIFICATION)
    # The tick that decides the success writes status, and the operator stops there.
    while world.status.phase is not Phase.SUCCEEDED:
        decision = decide(world.spec, world.status, world.observe(world.probe()))
        for action in decision.actions:
            if not isinstance(action, act.PostEvent):
                world.apply(action)
        world.status = decision.status
        world.tick += 1
    assert [p.key for p in world.status.pending_notifications] == ["1:Succeeded:team"]
    assert needs_attention(generation=world.generation, status=world.status, annotations={})
    # The restarted operator hands it over once, and never decides it again.
    world.run(5)
    assert keys(world) == ["1:Switched:team", "1:Succeeded:team"]
    assert not needs_attention(generation=world.generation, status=world.status, annotations={})


def test_the_same_revision_never_notifies_the_same_transition_twice() -> None:
    world = World(spec=spec_of(notifications=EVERYTHING))
    world.run_until_phase(Phase.SUCCEEDED)
    # Status forgets the phase (edited by hand, say): the success is decided again, not sent.
    world.status = world.status.model_copy(update={"phase": Phase.POST_VERIFICATION})
    world.run(5)
    assert world.status.phase is Phase.SUCCEEDED
    assert keys(world).count("1:Succeeded:team") == 1


def test_a_new_revision_notifies_again() -> None:
    world = World(spec=spec_of(notifications=EVERYTHING))
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", notifications=EVERYTHING))
    world.run(2)
    world.run_until_phase(Phase.SUCCEEDED)
    assert keys(world) == [
        "1:Switched:team",
        "1:Succeeded:team",
        "2:Switched:team",
        "2:Succeeded:team",
    ]


def test_without_subscriptions_nothing_is_recorded() -> None:
    world = World(spec=spec_of())
    world.run_until_phase(Phase.SUCCEEDED)
    assert world.sent == []
    assert world.status.notified == []


def test_an_abort_notifies_aborted() -> None:
    world = World(spec=spec_of(notifications=EVERYTHING, strategy={"autoPromote": False}))
    world.run_until_phase(Phase.AWAITING_PROMOTION)
    world.annotate(models.ANNOTATION_ABORT)
    world.run_until_phase(Phase.ABORTED)
    assert keys(world) == ["1:AwaitingPromotion:team", "1:Aborted:team"]


def test_claimed_status_keeps_what_was_decided() -> None:
    world = World(spec=spec_of(notifications=EVERYTHING))
    world.run_until_phase(Phase.SUCCEEDED)
    status = world.status.model_copy(update={"pending_notifications": list(world.sent)})
    after = notifications.claimed(status)
    assert after.pending_notifications == []
    assert after.notified == status.notified
