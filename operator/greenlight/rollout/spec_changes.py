"""A new pod template starts a new revision; a spec that is valid again resumes what it stopped."""

from __future__ import annotations

from greenlight import models
from greenlight.models import IN_FLIGHT_PHASES as IN_FLIGHT
from greenlight.models import ConditionReason, Outcome, Phase
from greenlight.rollout.conditions import INVALID_SPEC
from greenlight.rollout.draft import Draft
from greenlight.rollout.observation import Observation
from greenlight.rollout.transitions import abandon, begin_release, ignore_annotation


def start_new_revision(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    if obs.template_hash == draft.status.observed_template_hash:
        if draft.phase is Phase.FAILED and draft.current_revision:
            _recover_from_invalid_spec(draft, spec, obs)
        return
    # Numbers only grow, past trimmed history too: `latestRevision` remembers the highest.
    revision = 1 + max(
        [
            draft.status.latest_revision,
            draft.current_revision,
            draft.stable_revision,
            *(e.revision for e in draft.status.history),
            *obs.stored_revisions,
        ]
    )
    if draft.phase in IN_FLIGHT and draft.current_revision:
        abandon(draft, Outcome.SUPERSEDED, f"superseded by revision {revision}")
        if obs.annotations.promote and obs.annotations.promote_revision != revision:
            # A promote was given for the superseded revision, not for this one.
            ignore_annotation(
                draft,
                models.ANNOTATION_PROMOTE,
                f"revision {draft.current_revision} it promoted was superseded by {revision}",
            )
    draft.status.observed_template_hash = obs.template_hash
    draft.status.latest_revision = revision
    begin_release(
        draft,
        spec,
        revision=revision,
        template_hash=obs.template_hash,
        images=list(obs.images),
        store=True,
        why="new pod template",
    )


_PHASE_OF_OUTCOME = {
    Outcome.SUCCEEDED: Phase.SUCCEEDED,
    Outcome.ROLLED_BACK: Phase.ROLLED_BACK,
    Outcome.ABORTED: Phase.ABORTED,
    Outcome.FAILED: Phase.FAILED,
}


def _recover_from_invalid_spec(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    """The spec is valid again with the same template: resume where the fix leaves us."""
    invalid = next(
        (c for c in draft.status.conditions if c.type == INVALID_SPEC and c.status == "True"),
        None,
    )
    if invalid is None:
        return
    if (
        obs.generation == draft.status.observed_generation
        and invalid.reason != ConditionReason.FOREIGN_OBJECT
    ):
        # Nothing was changed: what was refused would be refused again. Except an object of
        # another owner in the way (an older Release of this name that the garbage collector
        # had not removed yet): this decision runs only once none is observed any more.
        return
    entry = next((e for e in draft.status.history if e.revision == draft.current_revision), None)
    # The invalid spec interrupted the release if it ended it: in the decision that found the
    # spec invalid, the moment the condition turned true.
    interrupted = (
        entry is not None
        and entry.outcome is Outcome.FAILED
        and entry.finished_at == invalid.last_transition_time
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
        begin_release(
            draft,
            spec,
            revision=draft.current_revision,
            template_hash=draft.status.current_template_hash,
            images=list(obs.images),
            store=False,
            why="spec valid again",
        )
