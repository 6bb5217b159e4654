"""Which notifications a decision owes, recorded in status with the transition that caused them.

Pure, like the rest of the decision: from the transitions of one tick (a phase entered, the
active Service switched) and the Release's subscriptions, it records one
`PendingNotification` per channel that wants that transition, keyed
`<revision>:<transition>:<channel>`. The key also goes into `status.notified` in the same
write, so the same transition of the same revision is never decided twice, whatever the ticks
and restarts that follow. The operator hands what is pending to delivery after removing it from
status (see `greenlight.notify`): a notification is sent at most once.
"""

from __future__ import annotations

from collections.abc import Sequence

from greenlight import models
from greenlight.models import GatePhase, NotifyOn, Phase
from greenlight.rollout import actions as act
from greenlight.rollout.draft import Draft

# Beyond these, the oldest keys are forgotten: only recent revisions still transition.
MAX_NOTIFIED = 64
MAX_PENDING = 32

# The phases whose entry is a transition of the same name.
_PHASE_TRANSITIONS = {
    Phase.AWAITING_PROMOTION: NotifyOn.AWAITING_PROMOTION,
    Phase.SUCCEEDED: NotifyOn.SUCCEEDED,
    Phase.ROLLED_BACK: NotifyOn.ROLLED_BACK,
    Phase.ABORTED: NotifyOn.ABORTED,
    Phase.FAILED: NotifyOn.FAILED,
}


def transitions(draft: Draft, previous_phase: Phase) -> list[NotifyOn]:
    """The transitions this decision made, in the order they happened."""
    found: list[NotifyOn] = []
    if act.Switch.FORWARD in draft.switches:
        found.append(NotifyOn.SWITCHED)
    entered = _PHASE_TRANSITIONS.get(draft.phase)
    if entered is not None and draft.phase is not previous_phase:
        found.append(entered)
    return found


def record(
    draft: Draft,
    previous: models.ReleaseStatus,
    subscriptions: Sequence[models.NotificationSpec],
) -> None:
    """Records the notifications the subscriptions want for this decision's transitions."""
    if not subscriptions:
        return
    happened = transitions(draft, previous.phase)
    if not happened:
        return
    notified: list[str] = list(draft.status.notified)
    pending: list[models.PendingNotification] = list(draft.status.pending_notifications)
    revision = draft.current_revision
    gate, gate_result = _failing_gate(draft, previous)
    images = next((list(e.images) for e in draft.status.history if e.revision == revision), [])
    for transition in happened:
        for subscription in subscriptions:
            if transition not in subscription.on:
                continue
            key = f"{revision}:{transition}:{subscription.channel}"
            if key in notified:
                continue
            notified.append(key)
            pending.append(
                models.PendingNotification(
                    key=key,
                    channel=subscription.channel,
                    transition=str(transition),
                    revision=revision,
                    phase=str(draft.phase),
                    reason=draft.status.message,
                    images=images,
                    gate=gate,
                    gate_result=gate_result,
                    started_at=draft.status.release_started_at,
                    time=draft.now,
                )
            )
    draft.status.notified = notified[-MAX_NOTIFIED:]
    draft.status.pending_notifications = pending[-MAX_PENDING:]


def claimed(status: models.ReleaseStatus) -> models.ReleaseStatus:
    """`status` with nothing pending: what is written before the pending ones are sent."""
    return status.model_copy(update={"pending_notifications": []})


def _failing_gate(draft: Draft, previous: models.ReleaseStatus) -> tuple[str, str]:
    """The gate that failed (name, last result), from this decision or the status before it:
    a failure that ends the release may clear the gates in the same step."""
    for states in (draft.status.gates, previous.gates):
        for state in states:
            if state.phase is GatePhase.FAILED:
                return state.name, state.last_message
    return "", ""
