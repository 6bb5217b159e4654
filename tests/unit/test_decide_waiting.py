"""What the decision says it waits for (`status.waiting`), one test per reason.

The reason is only shown: a decision taken from a status that claims another wait, or none,
does the same.
"""

from __future__ import annotations

from greenlight import models
from greenlight.models import Phase, WaitingReason
from greenlight.rollout.decide import decide
from tests.unit.rollout_world import World, spec_of

GATES = [
    {
        "name": "readyz",
        "http": {"path": "/readyz"},
        "successThreshold": 3,
        "intervalSeconds": 1,
    }
]


def waits_seen(world: World, ticks: int) -> list[tuple[Phase, models.Waiting | None]]:
    seen = []
    for _ in range(ticks):
        world.step()
        seen.append((world.status.phase, world.status.waiting))
    return seen


def messages(seen: list[tuple[Phase, models.Waiting | None]], reason: WaitingReason) -> list[str]:
    return [w.message for _, w in seen if w is not None and w.reason is reason]


def test_a_colour_whose_pods_are_not_ready_waits_for_them() -> None:
    world = World(spec=spec_of(), ready_after=lambda revision: 3)
    seen = waits_seen(world, 2)
    assert [phase for phase, _ in seen] == [Phase.PROGRESSING, Phase.PROGRESSING]
    assert (
        messages(seen, WaitingReason.PODS_READY)
        == ["waiting: revision 1's pods in blue to become ready before its gates run (0 ready)"] * 2
    )


def test_a_gate_short_of_its_passes_waits_for_them() -> None:
    world = World(spec=spec_of(gates=GATES))
    seen = waits_seen(world, 4)
    assert messages(seen, WaitingReason.GATE_PASSES) == [
        "waiting: gate readyz has 0 of 3 consecutive passes",
        "waiting: gate readyz has 1 of 3 consecutive passes",
        "waiting: gate readyz has 2 of 3 consecutive passes",
    ]


def test_after_the_switch_it_waits_for_traffic_to_settle() -> None:
    world = World(
        spec=spec_of(verification={"durationSeconds": 3, "gates": []}),
        endpoint_lag_ticks=0,
    )
    world.run_until_phase(Phase.POST_VERIFICATION)
    assert world.status.waiting == models.Waiting(
        reason=WaitingReason.TRAFFIC_SETTLING,
        message="waiting: traffic to settle: the active Service is not yet seen selecting blue",
    )
    seen = waits_seen(world, 1)
    assert messages(seen, WaitingReason.TRAFFIC_SETTLING) == [
        "waiting: traffic to settle on blue until 2026-01-01T00:00:05Z"
    ]
    world.run_until_phase(Phase.SUCCEEDED)
    assert world.status.waiting is None


def test_the_previous_colour_waits_for_its_scale_down_delay_then_for_endpoints() -> None:
    strategy = {"scaleDownDelaySeconds": 2}
    world = World(spec=spec_of(strategy=strategy), endpoint_lag_ticks=6)
    world.run_until_phase(Phase.SUCCEEDED)
    world.update_spec(spec_of("app:2", strategy=strategy))
    world.run_until_phase(Phase.SUCCEEDED)
    assert world.status.waiting is not None
    assert world.status.waiting.reason is WaitingReason.SCALE_DOWN_DELAY
    assert world.status.scale_down_after is not None
    until = models.format_time(world.status.scale_down_after)
    assert world.status.waiting.message == f"waiting: blue stays warm until {until}"
    seen = waits_seen(world, 3)
    assert "waiting: EndpointSlices still list blue" in messages(seen, WaitingReason.ENDPOINTS)
    world.run(20, until=lambda w: not w.status.scale_down_color)
    assert world.status.waiting is None
    assert world.violations == []


def test_the_reason_is_only_shown_never_acted_on() -> None:
    world = World(spec=spec_of(gates=GATES), ready_after=lambda revision: 2)
    for _ in range(4):
        observation = world.observe(world.probe())
        claimed = world.status.model_copy(
            update={"waiting": models.Waiting(reason=WaitingReason.ENDPOINTS, message="waiting: x")}
        )
        plain = decide(world.spec, world.status.model_copy(update={"waiting": None}), observation)
        other = decide(world.spec, claimed, observation)
        assert plain == other
        world.step()


def test_a_release_that_ended_waits_only_for_its_scale_down() -> None:
    # A post-switch gate that answers every other probe never gets its three passes in a row:
    # past the window and its grace, not passing is failing.
    flapping = {**GATES[0], "name": "errors"}
    world = World(
        spec=spec_of(verification={"durationSeconds": 2, "gates": [flapping]}),
        gate_health=lambda revision, role, gate, tick: gate != "errors" or tick % 2 == 0,
    )
    seen = waits_seen(world, 30)
    assert Phase.FAILED in [phase for phase, _ in seen]
    for phase, waiting in seen:
        if phase not in models.IN_FLIGHT_PHASES and waiting is not None:
            assert waiting.reason in (WaitingReason.SCALE_DOWN_DELAY, WaitingReason.ENDPOINTS)
