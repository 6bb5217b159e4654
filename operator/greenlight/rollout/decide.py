"""The rollout decision: given the spec, the stored status and one observation, what next.

`decide()` is a flat pipeline of small steps over one `Draft` (in the manner of a blue-green
controller: validate, act on annotations, start a new revision, advance the phase, keep traffic
where status says it is, scale down what is no longer needed), ending with the conditions
computed once. It is level-triggered: every action is derived from the difference between what
status says and what was observed, so the same decision taken again after a restart does the
same thing, and a step interrupted half-way is completed, never repeated to a different effect.

The caller writes the returned status first and performs the actions after, so the cluster
never runs ahead of what status records. The decision's Events are recorded in that status
too (`events`), and posted from there.

The steps live beside it: `requests` (the action annotations), `spec_changes` (new revisions),
`phases` (moving the release in flight), `upkeep` (keeping the cluster as status says), and
`transitions` (the moves they share).
"""

from __future__ import annotations

import dataclasses
import datetime

from greenlight import models, naming
from greenlight.models import IN_FLIGHT_PHASES as IN_FLIGHT
from greenlight.models import ConditionReason, EventReason, Outcome, Phase
from greenlight.rollout import actions as act
from greenlight.rollout import conditions, notifications
from greenlight.rollout import events as recorded_events
from greenlight.rollout.draft import Draft
from greenlight.rollout.observation import Observation, SpecProblem
from greenlight.rollout.phases import advance
from greenlight.rollout.requests import act_on_annotations, drop_annotations
from greenlight.rollout.spec_changes import start_new_revision
from greenlight.rollout.transitions import INVALID, abandon
from greenlight.rollout.upkeep import (
    availability,
    keep_traffic,
    keep_workloads,
    prune_revisions,
    report_drift,
    retire_services,
    scale_down_when_drained,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Decision:
    status: models.ReleaseStatus
    actions: tuple[act.Action, ...]
    # Which way it moved the active Service, in order.
    switches: tuple[act.Switch, ...] = ()


def decide(
    spec: models.ReleaseSpec | None, status: models.ReleaseStatus, obs: Observation
) -> Decision:
    draft = Draft.of(status, obs.now, obs.colors)
    draft.status.waiting = None  # each decision says afresh what it waits for
    if obs.recheck is not None:
        # Seen: what changed is in this observation. A newer note (another change meanwhile)
        # has another value and stays, for the next tick.
        draft.act(act.RemoveAnnotation(key=models.ANNOTATION_RECHECK, value=obs.recheck))
    problem = obs.spec_problem or _foreign_object_problem(obs)
    if spec is None or problem is not None:
        _fail_invalid_spec(draft, problem or SpecProblem(field="spec", message="is missing"))
        drop_annotations(draft, obs, why="the spec is invalid")
    else:
        act_on_annotations(draft, spec, obs)
        start_new_revision(draft, spec, obs)
        advance(draft, spec, obs)
        keep_workloads(draft, spec, obs)
        prune_revisions(draft, obs)
    if problem is None:
        report_drift(draft, status, obs)
    keep_traffic(draft, spec if problem is None else None, obs)
    retire_services(draft, obs)
    scale_down_when_drained(draft, obs)
    draft.status.observed_generation = obs.generation
    draft.status.actions_pending = any(not isinstance(a, act.PostEvent) for a in draft.actions)
    previous_phase = status.phase
    if draft.phase is not previous_phase:
        draft.event(
            EventReason.entered(draft.phase),
            draft.status.message,
            warning=draft.phase in (Phase.ROLLED_BACK, Phase.FAILED),
        )
    draft.status.conditions = conditions.compute(
        status.conditions,
        phase=draft.phase,
        available=availability(obs),
        invalid_spec=problem if spec is None or problem is not None else None,
        message=draft.status.message,
        generation=obs.generation,
        now=obs.now,
    )
    notifications.record(draft, status, obs.subscriptions)
    recorded_events.record(draft)
    # Traffic moves first: when a release is superseded after its switch, the Service must be
    # back on the stable colour before the preview colour is redeployed under it.
    ordered = sorted(draft.actions, key=lambda action: not isinstance(action, act.PointService))
    return Decision(status=draft.finish(), actions=tuple(ordered), switches=tuple(draft.switches))


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
        or any(key in annotations for key in models.ACTION_ANNOTATIONS)
        or models.ANNOTATION_RECHECK in annotations
        or bool(status.pending_events)
        or bool(status.pending_notifications)
    )


def wants_endpoints(status: models.ReleaseStatus, now: datetime.datetime) -> bool:
    """Whether this tick must look at the active Service's EndpointSlices.

    While a colour is being rolled out (it may have carried traffic a moment ago, when a
    release was superseded after its switch), and when a scale-down is due.
    """
    if status.phase is Phase.PROGRESSING:
        return True
    if not status.scale_down_color:
        return False
    after = status.scale_down_after
    return after is None or now >= after


def _foreign_object_problem(obs: Observation) -> SpecProblem | None:
    for color, state in sorted(obs.colors.items()):
        if state.foreign:
            return SpecProblem(
                field="metadata.name",
                message=f"gives the {color} Deployment the name "
                f"{naming.deployment_name(obs.release or '<release>', color)}, which exists and "
                "is not owned by this Release",
                reason=ConditionReason.FOREIGN_OBJECT,
            )
    for field, service in (
        ("spec.service.name", obs.active_service),
        ("spec.service.previewName", obs.preview_service),
    ):
        if service.foreign:
            return SpecProblem(
                field=field,
                message="names a Service that exists and is not owned by this Release",
                reason=ConditionReason.FOREIGN_OBJECT,
            )
    return None


def _fail_invalid_spec(draft: Draft, problem: SpecProblem) -> None:
    """Stops where it is: traffic returns to stable if it was on an unverified revision."""
    message = f"{INVALID}: {problem.field} {problem.message}"
    if draft.phase in IN_FLIGHT:
        abandon(draft, Outcome.FAILED, message)
    if draft.phase is not Phase.FAILED or draft.status.message != message:
        draft.event(EventReason.INVALID_SPEC, message, warning=True)
    draft.enter(Phase.FAILED, message)
