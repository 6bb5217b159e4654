"""Property: for any sequence of observations and user actions, the contract's invariants hold.

Hypothesis draws a scenario (which revisions are healthy before and after the switch, which
never become ready, endpoint lag, spec changes, promote/abort/rollback annotations at random
ticks), the toy world runs it, and its invariant checker must find nothing: the active Service
never selects a colour without ready pods nor, after a first success, nothing; traffic moves
forward only after every pre-switch gate passed; a colour is scaled down only when the
EndpointSlices no longer list it; status and Service always agree.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenlight import models
from greenlight.models import Phase
from greenlight.rollout.actions import ServiceRole
from greenlight.rollout.decide import needs_attention
from greenlight.rollout.observation import SpecProblem
from tests.unit.rollout_world import World, spec_of

GATES = [
    {
        "name": "ready",
        "http": {"path": "/readyz"},
        "successThreshold": 2,
        "failureThreshold": 2,
        "intervalSeconds": 1,
    }
]

user_step = st.one_of(
    st.just(("tick",)),
    st.tuples(st.just("image"), st.integers(min_value=1, max_value=6)),
    st.tuples(
        st.just("annotate"), st.sampled_from([models.ANNOTATION_PROMOTE, models.ANNOTATION_ABORT])
    ),
    st.tuples(st.just("rollback"), st.sampled_from(["1", "2", "3", "4", "5", "x", "0"])),
    st.tuples(st.just("replicas"), st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("invalid"), st.booleans()),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=12)),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    preswitch_bad=st.frozensets(st.integers(min_value=1, max_value=8)),
    postswitch_bad=st.frozensets(st.integers(min_value=1, max_value=8)),
    never_ready=st.frozensets(st.integers(min_value=2, max_value=8)),
    lag=st.integers(min_value=0, max_value=4),
    auto_promote=st.booleans(),
    delay=st.integers(min_value=0, max_value=5),
    limit=st.integers(min_value=1, max_value=4),
    steps=st.lists(user_step, min_size=1, max_size=40),
)
def test_invariants_hold_for_any_sequence(
    preswitch_bad: frozenset[int],
    postswitch_bad: frozenset[int],
    never_ready: frozenset[int],
    lag: int,
    auto_promote: bool,
    delay: int,
    limit: int,
    steps: list[tuple[object, ...]],
) -> None:
    def fields(image: int, replicas: int = 1) -> dict[str, object]:
        return {
            "gates": GATES,
            "replicas": replicas,
            "revisionHistoryLimit": limit,
            "verification": {
                "durationSeconds": 2,
                "gates": [{"name": "post", "http": {"path": "/"}, "failureThreshold": 1}],
            },
            "strategy": {
                "autoPromote": auto_promote,
                "scaleDownDelaySeconds": delay,
                "progressDeadlineSeconds": 6,
            },
        }

    def health(revision: int, role: ServiceRole, gate: str, tick: int) -> bool:
        bad = preswitch_bad if role is ServiceRole.PREVIEW else postswitch_bad
        return revision not in bad

    image, replicas = 1, 1
    world = World(
        spec=spec_of("app:1", **fields(1)),
        gate_health=health,
        ready_after=lambda revision: None if revision in never_ready else 1,
        endpoint_lag_ticks=lag,
    )
    for step in steps:
        match step:
            case ("image", int(n)):
                image = n
                world.update_spec(spec_of(f"app:{image}", **fields(image, replicas)))
            case ("replicas", int(n)):
                replicas = n
                world.update_spec(spec_of(f"app:{image}", **fields(image, replicas)))
            case ("annotate", str(key)):
                world.annotate(key)
            case ("rollback", str(value)):
                world.annotate(models.ANNOTATION_ROLLBACK_TO, value)
            case ("invalid", bool(invalid)):
                # The spec turns invalid (or valid again): a new generation either way.
                world.spec_problem = (
                    SpecProblem(field="spec.gates[0].tcp", message="is unknown")
                    if invalid
                    else None
                )
                world.generation += 1
            case ("wait", int(ticks)):
                world.run(ticks)
        world.run(3)
    world.annotate(models.ANNOTATION_PROMOTE)

    def idle(w: World) -> bool:
        return not needs_attention(
            generation=w.generation, status=w.status, annotations=w.annotations
        )

    world.run(80, until=idle)
    assert world.violations == []
    # Whatever happened, the release settles and goes idle: nothing ticks for ever.
    assert idle(world), world.status
    assert world.status.phase.is_terminal, world.status.message
    # At rest only the colour that carries traffic runs pods.
    left = [c for c, d in world.deployments.items() if c != world.active_selector and d.replicas]
    assert left == [], (left, world.status)
    if world.status.phase is Phase.SUCCEEDED:
        assert world.active_selector is not None
        assert world.status.stable_revision == world.status.current_revision
