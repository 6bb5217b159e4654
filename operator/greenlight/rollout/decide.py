"""The rollout decision: given the spec, the stored status and one observation, what next.

`decide()` is a flat pipeline of small steps over one `Draft` (in the manner of a blue-green
controller: validate, act on annotations, start a new revision, advance the phase, keep traffic
where status says it is, scale down what is no longer needed), ending with the conditions
computed once. It is level-triggered: every action is derived from the difference between what
status says and what was observed, so the same decision taken again after a restart does the
same thing, and a step interrupted half-way is completed, never repeated to a different effect.

The caller writes the returned status first and performs the actions after, so the cluster
never runs ahead of what status records.
"""

from __future__ import annotations

import dataclasses
import datetime

from greenlight import models
from greenlight.models import Color, GatePhase, Outcome, Phase
from greenlight.rollout import actions as act
from greenlight.rollout import conditions, gating
from greenlight.rollout.draft import Draft
from greenlight.rollout.observation import Observation, SpecProblem
from greenlight.rollout.timestamps import format_time, parse_time, seconds_since

IN_FLIGHT = frozenset(
    {
        Phase.PENDING,
        Phase.PROGRESSING,
        Phase.VERIFYING,
        Phase.AWAITING_PROMOTION,
        Phase.POST_VERIFICATION,
    }
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Decision:
    status: models.ReleaseStatus
    actions: tuple[act.Action, ...]


def decide(
    spec: models.ReleaseSpec | None, status: models.ReleaseStatus, obs: Observation
) -> Decision:
    draft = Draft.of(status, obs.now, obs.colors)
    problem = obs.spec_problem or _foreign_service_problem(obs)
    if spec is None or problem is not None:
        _fail_invalid_spec(draft, problem or SpecProblem(field="spec", message="is missing"))
        _drop_annotations(draft, obs, why="the spec is invalid")
    else:
        _act_on_annotations(draft, spec, obs)
        _start_new_revision(draft, spec, obs)
        _advance(draft, spec, obs)
        _keep_workloads(draft, spec, obs)
        _prune_revisions(draft, obs)
    _keep_traffic(draft, obs)
    _scale_down_when_drained(draft, obs)
    draft.set(
        observed_generation=obs.generation,
        actions_pending=any(not isinstance(a, act.PostEvent) for a in draft.actions),
    )
    previous_phase = status.phase
    if draft.phase is not previous_phase:
        draft.event(
            str(draft.phase),
            draft.status["message"],
            warning=draft.phase in (Phase.ROLLED_BACK, Phase.FAILED),
        )
    draft.set(
        conditions=conditions.compute(
            status.conditions,
            phase=draft.phase,
            active_serving=_active_serving(obs),
            invalid_spec=problem if spec is None or problem is not None else None,
            message=draft.status["message"],
            generation=obs.generation,
            now=format_time(obs.now),
        )
    )
    # Traffic moves first: when a release is superseded after its switch, the Service must be
    # back on the stable colour before the preview colour is redeployed under it.
    ordered = sorted(draft.actions, key=lambda action: not isinstance(action, act.PointService))
    return Decision(status=draft.finish(), actions=tuple(ordered))


def needs_attention(
    *,
    generation: int,
    status: models.ReleaseStatus,
    annotations: dict[str, str],
) -> bool:
    """Whether a Release has work in flight, so its ticking must run. Idle ones are never polled."""
    return (
        status.phase in IN_FLIGHT
        or generation != status.observed_generation
        or bool(status.scale_down_color)
        or status.actions_pending
        or any(key in annotations for key in _ACTION_ANNOTATIONS)
    )


def wants_endpoints(status: models.ReleaseStatus, now: datetime.datetime) -> bool:
    """Whether this tick must look at the active Service's EndpointSlices."""
    if not status.scale_down_color:
        return False
    after = parse_time(status.scale_down_after)
    return after is None or now >= after


_ACTION_ANNOTATIONS = (
    models.ANNOTATION_PROMOTE,
    models.ANNOTATION_ABORT,
    models.ANNOTATION_ROLLBACK_TO,
)

# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def _foreign_service_problem(obs: Observation) -> SpecProblem | None:
    if obs.active_service.foreign:
        return SpecProblem(
            field="spec.service.name",
            message="names a Service that exists and is not owned by this Release",
        )
    if obs.preview_service.foreign:
        return SpecProblem(
            field="spec.service.previewName",
            message="names a Service that exists and is not owned by this Release",
        )
    return None


def _fail_invalid_spec(draft: Draft, problem: SpecProblem) -> None:
    """Stops where it is: traffic returns to stable if it was on an unverified revision."""
    message = f"{_INVALID}: {problem.field} {problem.message}"
    if draft.phase in IN_FLIGHT:
        _abandon(draft, Outcome.FAILED, message)
    if draft.phase is not Phase.FAILED or draft.status["message"] != message:
        draft.event("InvalidSpec", message, warning=True)
    draft.enter(Phase.FAILED, message)


def _drop_annotations(draft: Draft, obs: Observation, *, why: str) -> None:
    notes = obs.annotations
    present = [
        key
        for key, here in (
            (models.ANNOTATION_PROMOTE, notes.promote),
            (models.ANNOTATION_ABORT, notes.abort),
            (models.ANNOTATION_ROLLBACK_TO, notes.rollback_to is not None),
        )
        if here
    ]
    for key in present:
        draft.act(act.RemoveAnnotation(key=key))
        draft.event("ActionIgnored", f"{key} ignored: {why}", warning=True)


def _ignore_annotation(draft: Draft, key: str, why: str) -> None:
    draft.act(act.RemoveAnnotation(key=key))
    draft.event("ActionIgnored", f"{key} ignored: {why}", warning=True)


def _act_on_annotations(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    notes = obs.annotations
    for key in notes.malformed:
        _ignore_annotation(draft, key, 'its value must be "true"')
    if notes.abort:
        if draft.phase in IN_FLIGHT:
            draft.act(act.RemoveAnnotation(key=models.ANNOTATION_ABORT))
            _abandon(draft, Outcome.ABORTED, "aborted by request")
            draft.enter(Phase.ABORTED, _after_abandon_message(draft, "aborted by request"))
        else:
            _ignore_annotation(
                draft, models.ANNOTATION_ABORT, f"nothing is in flight ({draft.phase})"
            )
    if notes.rollback_to is not None:
        draft.act(act.RemoveAnnotation(key=models.ANNOTATION_ROLLBACK_TO))
        _roll_back_to(draft, spec, obs, notes.rollback_to)
    new_template = obs.template_hash != draft.status["observed_template_hash"]
    if (
        notes.promote
        and not new_template  # a promote applied with a new template waits for it
        and draft.phase
        not in (Phase.PENDING, Phase.PROGRESSING, Phase.VERIFYING, Phase.AWAITING_PROMOTION)
    ):
        # Nothing left to promote; before AwaitingPromotion the annotation waits its turn.
        _ignore_annotation(
            draft, models.ANNOTATION_PROMOTE, f"nothing awaits promotion ({draft.phase})"
        )


def _roll_back_to(draft: Draft, spec: models.ReleaseSpec, obs: Observation, raw: str) -> None:
    revision = int(raw) if raw.strip().isdigit() else 0
    known = {entry.revision: entry for entry in reversed(draft.status["history"])}
    if revision < 1 or revision not in known or revision not in obs.stored_revisions:
        draft.event(
            "RollbackRefused",
            f"{models.ANNOTATION_ROLLBACK_TO}={raw!r} names no revision that can be released "
            f"(known: {', '.join(str(r) for r in sorted(obs.stored_revisions)) or 'none'})",
            warning=True,
        )
        return
    if revision == draft.current_revision and (
        draft.phase in IN_FLIGHT or draft.phase is Phase.SUCCEEDED
    ):
        # Already being released, or released: acting again would change nothing.
        draft.event(
            "ActionIgnored",
            f"{models.ANNOTATION_ROLLBACK_TO}={raw!r} ignored: revision {revision} is already "
            f"{'being released' if draft.phase in IN_FLIGHT else 'live'}",
            warning=True,
        )
        return
    entry = known[revision]
    # The instant path skips the gates, so only a revision that once passed everything may
    # take it; a warm colour of a revision that failed goes through the gates again.
    proven = any(
        e.revision == revision and e.outcome is Outcome.SUCCEEDED for e in draft.status["history"]
    )
    warm = _warm_color_of(draft, obs, revision) if proven else None
    if draft.phase in IN_FLIGHT:
        _abandon(draft, Outcome.SUPERSEDED, f"superseded by a rollback to revision {revision}")
    if warm is not None and draft.phase not in IN_FLIGHT:
        _switch_to_warm(draft, spec, warm, revision, entry)
    else:
        _begin_release(
            draft,
            spec,
            obs,
            revision=revision,
            template_hash=entry.template_hash,
            images=list(entry.images),
            store=False,
            why=f"rollback to revision {revision}",
        )


def _warm_color_of(draft: Draft, obs: Observation, revision: int) -> Color | None:
    for color in (Color.BLUE, Color.GREEN):
        state = obs.colors.get(color)
        if (
            state is not None
            and state.revision == revision
            and state.serving
            and color != draft.active
        ):
            return color
    return None


def _switch_to_warm(
    draft: Draft, spec: models.ReleaseSpec, color: Color, revision: int, entry: models.HistoryEntry
) -> None:
    """Rollback to a revision whose colour is still warm: traffic moves at once."""
    previous = draft.active
    reason = f"rolled back to revision {revision}, still warm in {color}"
    draft.act(act.PointService(role=act.ServiceRole.ACTIVE, color=color))
    draft.act(act.PointService(role=act.ServiceRole.PREVIEW, color=color))
    draft.event("SwitchService", f"active Service now selects {color} (revision {revision})")
    draft.set(current_revision=revision, current_template_hash=entry.template_hash)
    draft.record_history(
        models.HistoryEntry(
            revision=revision,
            images=list(entry.images),
            color=color,
            outcome=Outcome.SUCCEEDED,
            started_at=draft.now_text,
            finished_at=draft.now_text,
            reason=reason,
        ),
        spec.revision_history_limit,
    )
    draft.set(
        active_color=color,
        preview_color=color,
        stable_color=color,
        stable_revision=revision,
        switched_at=draft.now_text,
        gates=[],
    )
    _schedule_scale_down(draft, previous, delay=spec.strategy.scale_down_delay_seconds)
    draft.enter(Phase.SUCCEEDED, reason)


def _start_new_revision(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    if obs.template_hash == draft.status["observed_template_hash"]:
        if draft.phase is Phase.FAILED and draft.current_revision:
            _recover_from_invalid_spec(draft, spec, obs)
        return
    # Numbers only grow, past trimmed history too: `latestRevision` remembers the highest.
    revision = 1 + max(
        [
            draft.status["latest_revision"],
            draft.current_revision,
            draft.stable_revision,
            *(e.revision for e in draft.status["history"]),
            *obs.stored_revisions,
        ]
    )
    if draft.phase in IN_FLIGHT and draft.current_revision:
        _abandon(draft, Outcome.SUPERSEDED, f"superseded by revision {revision}")
        if obs.annotations.promote:
            # A promote was given for the superseded revision, not for this one.
            _ignore_annotation(
                draft,
                models.ANNOTATION_PROMOTE,
                f"revision {draft.current_revision} it promoted was superseded by {revision}",
            )
    draft.set(observed_template_hash=obs.template_hash, latest_revision=revision)
    _begin_release(
        draft,
        spec,
        obs,
        revision=revision,
        template_hash=obs.template_hash,
        images=list(obs.images),
        store=True,
        why="new pod template",
    )


_INVALID = "invalid spec"
_PHASE_OF_OUTCOME = {
    Outcome.SUCCEEDED: Phase.SUCCEEDED,
    Outcome.ROLLED_BACK: Phase.ROLLED_BACK,
    Outcome.ABORTED: Phase.ABORTED,
    Outcome.FAILED: Phase.FAILED,
}


def _recover_from_invalid_spec(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    """The spec is valid again with the same template: resume where the fix leaves us."""
    if not draft.status["message"].startswith(_INVALID):
        return
    entry = next((e for e in draft.status["history"] if e.revision == draft.current_revision), None)
    interrupted = (
        entry is not None and entry.outcome is Outcome.FAILED and entry.reason.startswith(_INVALID)
    )
    if draft.current_revision == draft.stable_revision and not interrupted:
        draft.enter(Phase.SUCCEEDED, f"revision {draft.stable_revision} is live; spec valid again")
    elif not interrupted:
        # The revision had ended before the spec turned invalid (aborted, rolled back): it
        # stays ended. Only a release the invalid spec interrupted is resumed.
        outcome = entry.outcome if entry is not None else Outcome.FAILED
        phase = _PHASE_OF_OUTCOME.get(outcome, Phase.FAILED)
        draft.enter(phase, f"spec valid again; revision {draft.current_revision}: {outcome}")
    else:
        _begin_release(
            draft,
            spec,
            obs,
            revision=draft.current_revision,
            template_hash=draft.status["current_template_hash"],
            images=list(obs.images),
            store=False,
            why="spec valid again",
        )


def _begin_release(
    draft: Draft,
    spec: models.ReleaseSpec,
    obs: Observation,
    *,
    revision: int,
    template_hash: str,
    images: list[str],
    store: bool,
    why: str,
) -> None:
    """Deploys `revision` into the colour that does not carry the stable revision."""
    # Never the colour that carries traffic: after a first release that failed post-switch,
    # traffic may sit on a colour that is not stable.
    serving = draft.stable or draft.active
    target = serving.other if serving is not None else Color.BLUE
    if store:
        draft.act(act.StoreRevision(revision=revision, template_hash=template_hash))
    draft.record_history(
        models.HistoryEntry(
            revision=revision,
            images=images,
            color=target,
            outcome=Outcome.IN_PROGRESS,
            started_at=draft.now_text,
            template_hash=template_hash,
        ),
        spec.revision_history_limit,
    )
    if draft.status["scale_down_color"] == target:
        draft.set(scale_down_color="", scale_down_after=None)
    draft.set(
        current_revision=revision,
        current_template_hash=template_hash,
        preview_color=target,
        release_started_at=draft.now_text,
        gates=[],
    )
    draft.event("ReleaseStarted", f"revision {revision} ({', '.join(images)}) into {target}: {why}")
    draft.enter(Phase.PROGRESSING, f"rolling out revision {revision} into {target}")


def _advance(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    """Moves the release in flight as far as this observation allows."""
    if draft.phase is Phase.PROGRESSING:
        _progress(draft, spec, obs)
    if draft.phase is Phase.VERIFYING:
        _verify(draft, spec, obs)
    if draft.phase is Phase.AWAITING_PROMOTION and obs.annotations.promote:
        draft.act(act.RemoveAnnotation(key=models.ANNOTATION_PROMOTE))
        _switch_forward(draft, spec, obs, why="promoted by request")
    if draft.phase is Phase.POST_VERIFICATION:
        _post_verify(draft, spec, obs)


def _deadline_passed(draft: Draft, spec: models.ReleaseSpec) -> bool:
    elapsed = seconds_since(draft.status["release_started_at"], draft.now)
    return elapsed is not None and elapsed > spec.strategy.progress_deadline_seconds


def _fail_release(draft: Draft, reason: str) -> None:
    """The new revision failed: traffic stays on (or returns to) the stable revision."""
    _abandon(draft, Outcome.ROLLED_BACK if draft.stable else Outcome.FAILED, reason)
    phase = Phase.ROLLED_BACK if draft.stable is not None else Phase.FAILED
    draft.enter(phase, _after_abandon_message(draft, reason))


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
        draft.set(gates=gating.fresh_gate_statuses(gates))
        draft.enter(
            Phase.VERIFYING,
            f"revision {draft.current_revision} is ready in "
            f"{target}; running {len(gates)} pre-switch gate(s)",
        )
    elif _deadline_passed(draft, spec):
        _fail_release(
            draft,
            f"revision {draft.current_revision} did not become ready within "
            f"{spec.strategy.progress_deadline_seconds}s",
        )


def _verify(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    states = _fold_gates(draft, spec, obs)
    failed = gating.first_failed(states)
    if failed is not None:
        _fail_release(draft, f"pre-switch gate {failed.name} failed: {failed.last_message}")
        return
    if not gating.all_passed(states):
        if _deadline_passed(draft, spec):
            _fail_release(
                draft,
                f"pre-switch gates did not pass within {spec.strategy.progress_deadline_seconds}s",
            )
        return
    if spec.strategy.auto_promote or obs.annotations.promote:
        if obs.annotations.promote:
            draft.act(act.RemoveAnnotation(key=models.ANNOTATION_PROMOTE))
        _switch_forward(draft, spec, obs, why="every pre-switch gate passed")
    else:
        draft.enter(
            Phase.AWAITING_PROMOTION,
            f"revision {draft.current_revision} passed every "
            f"pre-switch gate; waiting for {models.ANNOTATION_PROMOTE}",
        )


def _fold_gates(
    draft: Draft, spec: models.ReleaseSpec, obs: Observation
) -> list[models.GateStatus]:
    """Applies this tick's probe results and posts an Event for each gate that passed or failed."""
    before = {state.name: state.phase for state in draft.status["gates"]}
    # A probe goes through a Service; it tells about our colour only if that Service selects
    # it (a failed or lagging selector patch would credit another colour's health).
    if draft.phase is Phase.VERIFYING:
        aimed = obs.preview_service.selected_color == draft.preview
    else:
        aimed = obs.active_service.selected_color == draft.active
    results = obs.probe_results if aimed else ()
    states = gating.fold_results(spec, draft.phase, draft.status["gates"], results)
    for state in states:
        if state.phase is not before.get(state.name) and state.phase in (
            GatePhase.PASSED,
            GatePhase.FAILED,
        ):
            failed = state.phase is GatePhase.FAILED
            draft.event(
                f"Gate{state.phase}", f"gate {state.name}: {state.last_message}", warning=failed
            )
    draft.set(gates=states)
    return states


def _switch_forward(draft: Draft, spec: models.ReleaseSpec, obs: Observation, *, why: str) -> None:
    target = draft.preview
    state = obs.colors.get(target) if target is not None else None
    if target is None or state is None or not state.serving:
        return  # invariant 1: never point the active Service at a colour without ready pods
    draft.set(active_color=target, switched_at=draft.now_text)
    draft.event(
        "SwitchService",
        f"active Service now selects {target} (revision {draft.current_revision}): {why}",
    )
    verification = spec.verification
    if verification is not None:
        draft.set(gates=gating.fresh_gate_statuses(list(verification.gates)))
        draft.enter(
            Phase.POST_VERIFICATION,
            f"traffic is on revision {draft.current_revision}; "
            f"verifying for {verification.duration_seconds}s",
        )
    else:
        _succeed(draft, spec, obs)


def _post_verify(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    states = _fold_gates(draft, spec, obs)
    failed = gating.first_failed(states)
    if failed is not None:
        _fail_release(draft, f"post-switch gate {failed.name} failed: {failed.last_message}")
        return
    verification = spec.verification
    duration = verification.duration_seconds if verification else 0
    elapsed = seconds_since(draft.status["switched_at"], draft.now) or 0.0
    if elapsed >= duration and gating.all_passed(states):
        _succeed(draft, spec, obs)
        return
    # A gate that neither passes nor fails (flapping, or needing more passes than the window
    # has) must not leave traffic on an unverified revision for ever: past the window, plus
    # the time its thresholds need, plus one interval of grace, not passing is failing.
    gates = list(verification.gates) if verification else []
    needed = max((g.interval_seconds * g.success_threshold for g in gates), default=0)
    grace = max((g.interval_seconds for g in gates), default=0)
    if elapsed >= max(duration, needed) + grace:
        pending = next(state for state in states if state.phase is not GatePhase.PASSED)
        _fail_release(
            draft,
            f"post-switch gate {pending.name} did not pass within the verification window "
            f"({pending.successes} of its passes, last: {pending.last_message or 'no answer'})",
        )


def _succeed(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    revision = draft.current_revision
    draft.finish_history(Outcome.SUCCEEDED, "every gate passed")
    draft.set(stable_revision=revision, stable_color=draft.active)
    # The other colour: the previous stable one, or one that kept traffic after a first
    # release that failed post-switch. Either way it stays warm for the delay, then goes.
    other = draft.active.other if draft.active is not None else None
    _schedule_scale_down(draft, other, delay=spec.strategy.scale_down_delay_seconds)
    draft.enter(Phase.SUCCEEDED, f"revision {revision} is live in {draft.active}")


def _abandon(draft: Draft, outcome: Outcome, reason: str) -> None:
    """Ends the release in flight; traffic goes back to the stable colour if it had moved."""
    stable, active, preview = draft.stable, draft.active, draft.preview
    if active is not None and stable is not None and active != stable:
        draft.set(active_color=stable, switched_at=draft.now_text)
        draft.event(
            "SwitchBack",
            f"active Service back on {stable} (revision {draft.stable_revision}): {reason}",
            warning=True,
        )
    # What does not carry traffic (after the switch back) is no longer needed: the abandoned
    # colour, or, with no stable revision yet, whichever colour traffic is not on.
    idle = draft.active.other if draft.active is not None else preview
    if idle is not None and idle != draft.stable:
        _schedule_scale_down(draft, idle, delay=0)
    draft.finish_history(outcome, reason)
    if draft.stable is not None:
        draft.set(preview_color=str(stable))


def _after_abandon_message(draft: Draft, reason: str) -> str:
    if draft.stable is None:
        return f"{reason}; no revision has succeeded yet"
    return f"{reason}; traffic is on stable revision {draft.stable_revision} ({draft.stable})"


def _schedule_scale_down(draft: Draft, color: Color | None, *, delay: int) -> None:
    if color is None or color == draft.active or not draft.running(color):
        return
    after = draft.now + datetime.timedelta(seconds=delay)
    draft.set(scale_down_color=str(color), scale_down_after=format_time(after))


def _keep_workloads(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    """Each colour runs what status says it runs, with the spec's replicas.

    The stable colour runs the stable revision; while a release is in flight, the preview
    colour runs the current one. A colour waiting for its scale-down is left alone.
    """
    if (
        draft.current_revision
        and draft.current_revision not in obs.stored_revisions
        and draft.status["current_template_hash"] == obs.template_hash
        and not any(isinstance(a, act.StoreRevision) for a in draft.actions)
    ):
        # A restart between deciding and storing the revision: store it now.
        draft.act(
            act.StoreRevision(revision=draft.current_revision, template_hash=obs.template_hash)
        )
    storable = set(obs.stored_revisions) | {
        a.revision for a in draft.actions if isinstance(a, act.StoreRevision)
    }
    wanted: dict[Color, int] = {}
    if draft.stable is not None and draft.stable_revision:
        wanted[draft.stable] = draft.stable_revision
    if draft.phase in IN_FLIGHT and draft.preview is not None and draft.current_revision:
        wanted[draft.preview] = draft.current_revision
    for color, revision in wanted.items():
        state = obs.colors.get(color)
        if state is None or not state.exists or state.revision != revision:
            if revision in storable:
                draft.act(act.DeployColor(color=color, revision=revision, replicas=spec.replicas))
        elif state.replicas != spec.replicas:
            draft.act(act.ScaleColor(color=color, replicas=spec.replicas))


def _keep_traffic(draft: Draft, obs: Observation) -> None:
    """The Services select what status says, and never a colour without ready pods."""
    active = draft.active
    if (
        active is not None
        and not obs.active_service.foreign
        and obs.active_service.selected_color != active
    ):
        state = obs.colors.get(active)
        if state is not None and state.serving:
            draft.act(act.PointService(role=act.ServiceRole.ACTIVE, color=active))
    preview = draft.preview
    if (
        preview is not None
        and not obs.preview_service.foreign
        and obs.preview_service.selected_color != preview
    ):
        draft.act(act.PointService(role=act.ServiceRole.PREVIEW, color=preview))


def _scale_down_when_drained(draft: Draft, obs: Observation) -> None:
    """Invariant 4: only after the delay, and once the active Service's slices list only the
    active colour's endpoints."""
    color = draft.status["scale_down_color"]
    if not color:
        return
    if color in (draft.active, draft.preview if draft.phase in IN_FLIGHT else None):
        draft.set(scale_down_color="", scale_down_after=None)
        return
    after = parse_time(draft.status["scale_down_after"])
    if after is not None and draft.now < after:
        return
    endpoints = obs.active_endpoint_colors
    if draft.active is not None and endpoints != frozenset({draft.active}):
        return
    draft.act(act.ScaleColor(color=Color(color), replicas=0))
    draft.event("ScaledDown", f"{color} scaled to zero")
    draft.set(scale_down_color="", scale_down_after=None)


def _prune_revisions(draft: Draft, obs: Observation) -> None:
    keep = {entry.revision for entry in draft.status["history"]}
    keep |= {draft.current_revision, draft.stable_revision}
    if obs.stored_revisions - keep:
        draft.act(act.PruneRevisions(keep=frozenset(keep)))


def _active_serving(obs: Observation) -> bool:
    """Whether the active Service, as observed, selects a colour with ready pods."""
    selected = obs.active_service.selected_color
    state = obs.colors.get(selected) if selected is not None else None
    return state is not None and state.serving
