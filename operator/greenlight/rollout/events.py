"""Events as status records them (invariant 7): each transition's Event is written into status
in the same write as the transition, and removed from there once it has been posted.

A decision numbers its Events (`status.eventSequence`) and appends them to
`status.pendingEvents`; the operator posts what is pending after the status write and then
removes what got through. A restart between the status write and the posting therefore posts
them on the next tick instead of losing them. Posting and removing cannot be one atomic step,
so an Event may be posted twice (posted, then the removal was not written); its name is derived
from the Release's uid and its number, so the second post is refused by the API server as a
duplicate and each Event appears once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from greenlight import models
from greenlight.rollout import actions as act
from greenlight.rollout.draft import Draft

# Enough for every Event of many ticks while the Events API is unreachable, small enough that
# status stays small; beyond it the oldest are dropped.
MAX_PENDING = 32


def record(draft: Draft) -> None:
    """Numbers the Events this decision collected and records them in status as pending."""
    sequence = draft.status.event_sequence
    pending: list[models.PendingEvent] = list(draft.status.pending_events)
    numbered: list[act.Action] = []
    for action in draft.actions:
        if isinstance(action, act.PostEvent):
            sequence += 1
            action = dataclasses.replace(action, sequence=sequence, at=draft.now)
            pending.append(
                models.PendingEvent(
                    sequence=sequence,
                    type=str(action.type),
                    reason=action.reason,
                    message=action.message,
                    time=action.at,
                )
            )
        numbered.append(action)
    draft.actions[:] = numbered
    draft.status.event_sequence = sequence
    draft.status.pending_events = pending[-MAX_PENDING:]


def to_post(status: models.ReleaseStatus) -> tuple[act.PostEvent, ...]:
    """The Events status records as not yet posted, oldest first."""
    return tuple(
        act.PostEvent(
            type=_event_type(event.type),
            reason=event.reason,
            message=event.message,
            sequence=event.sequence,
            at=event.time,
        )
        for event in status.pending_events
    )


def mark_posted(status: models.ReleaseStatus, sequences: Collection[int]) -> models.ReleaseStatus:
    """`status` without the pending Events of these numbers (they were posted)."""
    left = [event for event in status.pending_events if event.sequence not in sequences]
    return status.model_copy(update={"pending_events": left})


def _event_type(value: str) -> act.EventType:
    return act.EventType.WARNING if value == act.EventType.WARNING else act.EventType.NORMAL
