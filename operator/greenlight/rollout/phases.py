"""Moving the release in flight along its phases: rollout, gates, promotion, switch, checks."""

from __future__ import annotations

import datetime

from greenlight import models
from greenlight.models import Color, EventReason, GatePhase, GateStatus, Phase, WaitingReason
from greenlight.rollout import actions as act
from greenlight.rollout import gating
from greenlight.rollout.draft import Draft
from greenlight.rollout.observation import ColorState, Observation
from greenlight.rollout.transitions import fail_release, succeed, wait


def advance(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    """Moves the release in flight as far as this observation allows."""
    if draft.phase is Phase.PROGRESSING:
        _progress(draft, spec, obs)
    if draft.phase is Phase.VERIFYING:
        _verify(draft, spec, obs)
    if draft.phase is Phase.AWAITING_PROMOTION and _promote_for_current(draft, obs):
        draft.act(act.RemoveAnnotation(key=models.ANNOTATION_PROMOTE))
        _promote_used(draft)
        _switch_forward(draft, spec, obs, why="promoted by request")
    elif draft.phase is Phase.AWAITING_PROMOTION and spec.strategy.auto_promote:
        # `autoPromote` turned on while waiting: the wait was only for a promote.
        _switch_forward(draft, spec, obs, why="strategy.autoPromote turned on")
    if draft.phase is Phase.POST_VERIFICATION:
        _post_verify(draft, spec, obs)


def _promote_for_current(draft: Draft, obs: Observation) -> bool:
    """A promote present for the revision in flight (a bare "true" is for whichever it is)."""
    notes = obs.annotations
    return notes.promote and notes.promote_revision in (None, draft.current_revision)


def _promote_used(draft: Draft) -> None:
    draft.event(
        EventReason.PROMOTE_USED,
        f"{models.ANNOTATION_PROMOTE} used for revision {draft.current_revision}",
    )


def _deadline_passed(draft: Draft, spec: models.ReleaseSpec) -> bool:
    elapsed = _seconds_since(draft.status.release_started_at, draft.now)
    return elapsed is not None and elapsed > spec.strategy.progress_deadline_seconds


def _progress(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    target = draft.preview
    state = obs.colors.get(target) if target is not None else None
    if (
        state is not None
        and state.revision == draft.current_revision
        and state.rolled_out
        and state.serving
    ):
        gates, _ = gating.gates_for_phase(spec, Phase.VERIFYING)
        draft.status.gates = gating.fresh_gate_statuses(gates)
        draft.enter(
            Phase.VERIFYING,
            f"revision {draft.current_revision} is ready in "
            f"{target}; running {len(gates)} pre-switch gate(s)",
        )
    elif _deadline_passed(draft, spec):
        fail_release(
            draft,
            f"revision {draft.current_revision} did not become ready within "
            f"{spec.strategy.progress_deadline_seconds}s",
        )
    else:
        _wait_for_pods(draft, target, state, why="its gates run")


def _wait_for_pods(draft: Draft, target: Color | None, state: ColorState | None, why: str) -> None:
    ready = state.ready_replicas if state is not None else 0
    what = f"revision {draft.current_revision}'s pods in {target} to become ready before {why}"
    wait(draft, WaitingReason.PODS_READY, f"{what} ({ready} ready)")


def _verify(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    states = _fold_gates(draft, spec, obs)
    failed = gating.first_failed(states)
    if failed is not None:
        fail_release(draft, f"pre-switch gate {failed.name} failed: {failed.last_message}")
        return
    if not gating.all_passed(states):
        if _deadline_passed(draft, spec):
            fail_release(
                draft,
                f"pre-switch gates did not pass within {spec.strategy.progress_deadline_seconds}s",
            )
        else:
            _wait_for_passes(draft, spec, states)
        return
    promoted = _promote_for_current(draft, obs)
    if spec.strategy.auto_promote or promoted:
        if promoted:
            draft.act(act.RemoveAnnotation(key=models.ANNOTATION_PROMOTE))
            _promote_used(draft)
        _switch_forward(draft, spec, obs, why="every pre-switch gate passed")
    else:
        draft.enter(
            Phase.AWAITING_PROMOTION,
            f"revision {draft.current_revision} passed every "
            f"pre-switch gate; waiting for {models.ANNOTATION_PROMOTE}",
        )


def _wait_for_passes(draft: Draft, spec: models.ReleaseSpec, states: list[GateStatus]) -> None:
    needed = spec.gates_by_name(after_switch=draft.phase is Phase.POST_VERIFICATION)
    state = next(state for state in states if state.phase is not GatePhase.PASSED)
    count = f"{state.successes} of {needed[state.name].success_threshold}"
    wait(draft, WaitingReason.GATE_PASSES, f"gate {state.name} has {count} consecutive passes")


def _fold_gates(
    draft: Draft, spec: models.ReleaseSpec, obs: Observation
) -> list[models.GateStatus]:
    """Applies this tick's probe results and posts an Event for each gate that passed or failed."""
    before = {state.name: state.phase for state in draft.status.gates}
    # A probe goes through a Service; it tells about our colour only if that Service selects
    # it (a failed or lagging selector patch would credit another colour's health).
    if draft.phase is Phase.VERIFYING:
        aimed = obs.preview_service.selected_color == draft.preview
    else:
        aimed = obs.active_service.selected_color == draft.active
    results = obs.probe_results if aimed else ()
    states = gating.fold_results(spec, draft.phase, draft.status.gates, results)
    for state in states:
        if state.phase is not before.get(state.name) and state.phase in (
            GatePhase.PASSED,
            GatePhase.FAILED,
        ):
            failed = state.phase is GatePhase.FAILED
            draft.event(
                EventReason.gate(state.phase),
                f"gate {state.name}: {state.last_message}",
                warning=failed,
            )
    draft.status.gates = states
    return states


def _switch_forward(draft: Draft, spec: models.ReleaseSpec, obs: Observation, *, why: str) -> None:
    target = draft.preview
    state = obs.colors.get(target) if target is not None else None
    if target is None or state is None or not state.serving:
        # Invariant 1: never point the active Service at a colour without ready pods.
        _wait_for_pods(draft, target, state, why="the switch")
        return
    # The verification window starts when a tick sees the active Service select `target`
    # (`_post_verify`): until then no request of real traffic reached it.
    draft.status.active_color, draft.status.switched_at = target, draft.now
    draft.status.verification_started_at = None
    draft.switched(
        act.Switch.FORWARD,
        f"active Service now selects {target} (revision {draft.current_revision}): {why}",
    )
    # Always through PostVerification, even with no verification: status says Succeeded only
    # once a tick has observed the active Service selecting the new colour.
    draft.status.gates = gating.fresh_gate_statuses(spec.verifying.gates)
    draft.enter(
        Phase.POST_VERIFICATION,
        f"traffic is on revision {draft.current_revision}; "
        + (
            f"verifying for {spec.verifying.duration_seconds}s"
            if spec.verification is not None
            else "waiting to see the active Service select it"
        ),
    )


def _post_verify(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    gates = spec.verifying.gates
    if not draft.status.verification_started_at and not _window_opens(draft, spec, obs):
        return
    late = _unwatched_gate(draft, gates)
    if late is not None:
        # Time nobody probed (the operator was stopped, or its probes could not reach the
        # revision) verified nothing: the window starts again, and so do the gates' counts.
        draft.status.verification_started_at = draft.now
        draft.status.gates = gating.fresh_gate_statuses(gates)
        draft.event(
            EventReason.VERIFICATION_RESTARTED,
            f"post-switch gate {late} went unprobed for longer than its interval allows; "
            "the verification window starts again",
            warning=True,
        )
    states = _fold_gates(draft, spec, obs)
    failed = gating.first_failed(states)
    if failed is not None:
        fail_release(draft, f"post-switch gate {failed.name} failed: {failed.last_message}")
        return
    duration = spec.verifying.duration_seconds
    elapsed = _seconds_since(draft.status.verification_started_at, draft.now) or 0.0
    # Promoted only on what was seen: the active Service, as observed this tick, selects the
    # new colour (so the switch happened and the probes went to it).
    observed = obs.active_service.selected_color == draft.active
    if elapsed >= duration and gating.all_passed(states) and observed:
        succeed(draft, spec)
        return
    # A gate that neither passes nor fails (flapping, or needing more passes than the window
    # has) must not leave traffic on an unverified revision for ever: past the window, plus
    # the time its thresholds need, plus one interval of grace, not passing is failing.
    needed = max((g.interval_seconds * g.success_threshold for g in gates), default=0)
    grace = max((g.interval_seconds for g in gates), default=0)
    pending = next((state for state in states if state.phase is not GatePhase.PASSED), None)
    if pending is not None and elapsed >= max(duration, needed) + grace:
        fail_release(
            draft,
            f"post-switch gate {pending.name} did not pass within the verification window "
            f"({pending.successes} of its passes, last: {pending.last_message or 'no answer'})",
        )
    elif not observed:
        _wait_for_switch(draft)
    elif not gating.all_passed(states):
        _wait_for_passes(draft, spec, states)
    else:
        window = datetime.timedelta(seconds=duration)
        until = models.format_time((draft.status.verification_started_at or draft.now) + window)
        wait(
            draft,
            WaitingReason.TRAFFIC_SETTLING,
            f"traffic to settle on {draft.active} until {until}",
        )


def _window_opens(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> bool:
    """Starts the verification window on the first tick that sees the active Service select
    the new colour (the switch was decided earlier, and its Service write may have come
    seconds later, after a restart or an outage). A switch not seen within the progress
    deadline fails the release: traffic never sits on a colour nobody could verify."""
    if obs.active_service.selected_color == draft.active:
        draft.status.verification_started_at = draft.now
        return True
    waited = _seconds_since(draft.status.switched_at, draft.now)
    deadline = spec.strategy.progress_deadline_seconds
    if waited is not None and waited > deadline:
        fail_release(
            draft,
            f"the active Service did not select {draft.active} within {deadline}s of the "
            f"switch to revision {draft.current_revision}",
        )
    else:
        _wait_for_switch(draft)
    return False


def _wait_for_switch(draft: Draft) -> None:
    seen = f"the active Service is not yet seen selecting {draft.active}"
    wait(draft, WaitingReason.TRAFFIC_SETTLING, f"traffic to settle: {seen}")


def _seconds_since(moment: datetime.datetime | None, now: datetime.datetime) -> float | None:
    return None if moment is None else (now - moment).total_seconds()


def _unwatched_gate(draft: Draft, gates: list[models.GateSpec]) -> str | None:
    """The first post-switch gate not probed within its allowed gap (the window's start
    counting as its first probe), if any."""
    start = draft.status.verification_started_at
    known = {state.name: state for state in draft.status.gates}
    for gate in gates:
        state = known.get(gate.name)
        last = state.last_probe_time if state is not None else None
        last = last or start
        if last is None:
            continue
        if (draft.now - last).total_seconds() > gating.allowed_probe_gap(gate):
            return gate.name
    return None
