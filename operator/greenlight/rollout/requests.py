"""The action annotations people and pipelines set: promote, abort, rollback-to.

Each is acted on or refused with a Warning Event, and removed either way, so none is left
behind to keep an idle Release ticking.
"""

from __future__ import annotations

from greenlight import models, user_actions
from greenlight.models import IN_FLIGHT_PHASES as IN_FLIGHT
from greenlight.models import Color, EventReason, Outcome, Phase
from greenlight.rollout import actions as act
from greenlight.rollout.draft import Draft
from greenlight.rollout.observation import Observation
from greenlight.rollout.transitions import (
    abandon,
    after_abandon_message,
    begin_release,
    ignore_annotation,
    schedule_scale_down,
)
from greenlight.rollout.upkeep import target_port_for


def drop_annotations(draft: Draft, obs: Observation, *, why: str) -> None:
    notes = obs.annotations
    for key in [*notes.pending, *(bad.key for bad in notes.malformed)]:
        draft.act(act.RemoveAnnotation(key=key))
        draft.event(EventReason.ACTION_IGNORED, f"{key} ignored: {why}", warning=True)


def act_on_annotations(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    notes = obs.annotations
    for bad in notes.malformed:
        ignore_annotation(draft, bad.key, f"its value {bad.value!r} is not {bad.expected}")
    if notes.abort:
        if draft.phase in IN_FLIGHT:
            draft.act(act.RemoveAnnotation(key=models.ANNOTATION_ABORT))
            abandon(draft, Outcome.ABORTED, "aborted by request")
            draft.enter(Phase.ABORTED, after_abandon_message(draft, "aborted by request"))
        else:
            ignore_annotation(
                draft, models.ANNOTATION_ABORT, f"nothing is in flight ({draft.phase})"
            )
    if notes.rollback_to is not None:
        draft.act(act.RemoveAnnotation(key=models.ANNOTATION_ROLLBACK_TO))
        _roll_back_to(draft, spec, obs, notes.rollback_to)
    new_template = obs.template_hash != draft.status.observed_template_hash
    if (
        notes.promote
        and notes.promote_revision is not None
        and notes.promote_revision != draft.current_revision
        and not (new_template and notes.promote_revision > draft.current_revision)
    ):
        # Meant for another revision (one since superseded): never spent on this one.
        ignore_annotation(
            draft,
            models.ANNOTATION_PROMOTE,
            f"it names revision {notes.promote_revision}, but revision "
            f"{draft.current_revision} is the one being released",
        )
        return
    if (
        notes.promote
        and not new_template  # a promote applied with a new template waits for it
        and draft.phase
        not in (Phase.PENDING, Phase.PROGRESSING, Phase.VERIFYING, Phase.AWAITING_PROMOTION)
    ):
        # Nothing left to promote; before AwaitingPromotion the annotation waits its turn.
        ignore_annotation(
            draft, models.ANNOTATION_PROMOTE, f"nothing awaits promotion ({draft.phase})"
        )


def _roll_back_to(draft: Draft, spec: models.ReleaseSpec, obs: Observation, revision: int) -> None:
    raw = str(revision)
    known = {entry.revision: entry for entry in reversed(draft.status.history)}
    if revision not in known or revision not in obs.stored_revisions:
        draft.event(
            EventReason.ROLLBACK_REFUSED,
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
            EventReason.ACTION_IGNORED,
            f"{models.ANNOTATION_ROLLBACK_TO}={raw!r} ignored: revision {revision} is already "
            f"{'being released' if draft.phase in IN_FLIGHT else 'live'}",
            warning=True,
        )
        return
    entry = known[revision]
    serving = {color: state.revision for color, state in obs.colors.items() if state.serving}
    warm = user_actions.warm_color(draft.finish(), revision, serving)
    if draft.phase in IN_FLIGHT:
        abandon(draft, Outcome.SUPERSEDED, f"superseded by a rollback to revision {revision}")
    if warm is not None:
        _switch_to_warm(draft, spec, obs, warm, revision, entry)
    else:
        begin_release(
            draft,
            spec,
            revision=revision,
            template_hash=entry.template_hash,
            images=list(entry.images),
            store=False,
            why=f"rollback to revision {revision}",
        )


def _switch_to_warm(
    draft: Draft,
    spec: models.ReleaseSpec,
    obs: Observation,
    color: Color,
    revision: int,
    entry: models.HistoryEntry,
) -> None:
    """Rollback to a revision whose colour is still warm: traffic moves at once."""
    previous = draft.active
    reason = f"rolled back to revision {revision}, still warm in {color}"
    port = target_port_for(color, spec, obs)
    draft.act(act.PointService(role=act.ServiceRole.ACTIVE, color=color, target_port=port))
    draft.act(act.PointService(role=act.ServiceRole.PREVIEW, color=color, target_port=port))
    draft.switched(act.Switch.FORWARD, f"active Service now selects {color} (revision {revision})")
    draft.status.current_revision = revision
    draft.status.current_template_hash = entry.template_hash
    draft.record_history(
        models.HistoryEntry(
            revision=revision,
            images=list(entry.images),
            color=color,
            outcome=Outcome.SUCCEEDED,
            started_at=draft.now,
            finished_at=draft.now,
            reason=reason,
        ),
        spec.revision_history_limit,
    )
    draft.status.active_color = draft.status.preview_color = draft.status.stable_color = color
    draft.status.stable_revision, draft.status.switched_at = revision, draft.now
    draft.status.gates = []
    schedule_scale_down(draft, previous, delay=spec.strategy.scale_down_delay_seconds)
    draft.enter(Phase.SUCCEEDED, reason)
