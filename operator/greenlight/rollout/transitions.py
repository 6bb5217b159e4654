"""The moves a release makes, shared by the steps: begin, succeed, fail, abandon, scale down,
and wait.

Each one changes the draft status and queues the actions and Events that go with it.
"""

from __future__ import annotations

import datetime

from greenlight import models
from greenlight.models import Color, EventReason, Outcome, Phase, WaitingReason
from greenlight.rollout import actions as act
from greenlight.rollout.draft import Draft

INVALID = "invalid spec"  # the start of the message of a release an invalid spec stopped


def begin_release(
    draft: Draft,
    spec: models.ReleaseSpec,
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
            started_at=draft.now,
            template_hash=template_hash,
        ),
        spec.revision_history_limit,
    )
    if draft.status.scale_down_color == target:
        draft.status.scale_down_color, draft.status.scale_down_after = "", None
    draft.status.current_revision = revision
    draft.status.current_template_hash = template_hash
    draft.status.preview_color = target
    draft.status.release_started_at = draft.now
    draft.status.gates = []
    draft.event(
        EventReason.RELEASE_STARTED,
        f"revision {revision} ({', '.join(images)}) into {target}: {why}",
    )
    draft.enter(Phase.PROGRESSING, f"rolling out revision {revision} into {target}")


def fail_release(draft: Draft, reason: str) -> None:
    """The new revision failed: traffic stays on (or returns to) the stable revision."""
    abandon(draft, Outcome.ROLLED_BACK if draft.stable else Outcome.FAILED, reason)
    phase = Phase.ROLLED_BACK if draft.stable is not None else Phase.FAILED
    draft.enter(phase, after_abandon_message(draft, reason))


def succeed(draft: Draft, spec: models.ReleaseSpec) -> None:
    revision = draft.current_revision
    draft.finish_history(Outcome.SUCCEEDED, "every gate passed")
    draft.status.stable_revision = revision
    draft.status.stable_color = draft.status.active_color
    # The other colour: the previous stable one, or one that kept traffic after a first
    # release that failed post-switch. Either way it stays warm for the delay, then goes.
    other = draft.active.other if draft.active is not None else None
    schedule_scale_down(draft, other, delay=spec.strategy.scale_down_delay_seconds)
    draft.enter(Phase.SUCCEEDED, f"revision {revision} is live in {draft.active}")


def abandon(draft: Draft, outcome: Outcome, reason: str) -> None:
    """Ends the release in flight; traffic goes back to the stable colour if it had moved."""
    stable, active, preview = draft.stable, draft.active, draft.preview
    if active is not None and stable is not None and active != stable:
        draft.status.active_color, draft.status.switched_at = stable, draft.now
        draft.switched(
            act.Switch.BACK,
            f"active Service back on {stable} (revision {draft.stable_revision}): {reason}",
        )
    # What does not carry traffic (after the switch back) is no longer needed: the abandoned
    # colour, or, with no stable revision yet, whichever colour traffic is not on.
    idle = draft.active.other if draft.active is not None else preview
    if idle is not None and idle != draft.stable:
        schedule_scale_down(draft, idle, delay=0)
    draft.finish_history(outcome, reason)
    if draft.stable is not None:
        draft.status.preview_color = str(stable)


def after_abandon_message(draft: Draft, reason: str) -> str:
    if draft.stable is None:
        return f"{reason}; no revision has succeeded yet"
    return f"{reason}; traffic is on stable revision {draft.stable_revision} ({draft.stable})"


def schedule_scale_down(draft: Draft, color: Color | None, *, delay: int) -> None:
    if color is None or color == draft.active or not draft.running(color):
        return
    after = draft.now + datetime.timedelta(seconds=delay)
    draft.status.scale_down_color, draft.status.scale_down_after = str(color), after


def ignore_annotation(draft: Draft, key: str, why: str) -> None:
    draft.act(act.RemoveAnnotation(key=key))
    draft.event(EventReason.ACTION_IGNORED, f"{key} ignored: {why}", warning=True)


def wait(draft: Draft, reason: WaitingReason, message: str) -> None:
    """Records what this decision waits for; its first wait, what holds the release back, wins
    over those of the upkeep after it."""
    if draft.status.waiting is None:
        draft.status.waiting = models.Waiting(reason=reason, message=f"waiting: {message}")
