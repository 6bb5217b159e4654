"""A mutable working copy of a Release's status, plus the actions and events a decision collects.

The decision is written as a flat series of steps that each look at the draft and change it;
only the finished draft becomes the next `ReleaseStatus`.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping

from greenlight import models
from greenlight.models import Color, EventReason, Outcome, Phase
from greenlight.rollout import actions as act
from greenlight.rollout.actions import Switch
from greenlight.rollout.observation import ColorState


class DraftStatus(models.ReleaseStatus, frozen=False):
    """`ReleaseStatus` that the steps change field by field: a misspelt field is a type error."""


@dataclasses.dataclass
class Draft:
    status: DraftStatus
    now: datetime.datetime
    # The colours' Deployments as observed this tick (read-only for the steps).
    colors: Mapping[Color, ColorState] = dataclasses.field(default_factory=dict)
    actions: list[act.Action] = dataclasses.field(default_factory=list)
    # Which way this decision moved the active Service, in order (metrics, notifications).
    switches: list[Switch] = dataclasses.field(default_factory=list)

    @classmethod
    def of(
        cls,
        status: models.ReleaseStatus,
        now: datetime.datetime,
        colors: Mapping[Color, ColorState],
    ) -> Draft:
        return cls(status=DraftStatus.model_construct(**dict(status)), now=now, colors=colors)

    def running(self, color: Color) -> bool:
        """Whether the colour's Deployment exists with pods asked for."""
        state = self.colors.get(color)
        return state is not None and state.exists and state.replicas > 0

    def finish(self) -> models.ReleaseStatus:
        return models.ReleaseStatus.model_validate(dict(self.status))

    # -- typed accessors for the fields the steps use most --------------------------------

    @property
    def phase(self) -> Phase:
        return self.status.phase

    @property
    def active(self) -> Color | None:
        return _color(self.status.active_color)

    @property
    def preview(self) -> Color | None:
        return _color(self.status.preview_color)

    @property
    def stable(self) -> Color | None:
        return _color(self.status.stable_color)

    @property
    def current_revision(self) -> int:
        return self.status.current_revision

    @property
    def stable_revision(self) -> int:
        return self.status.stable_revision

    # -- changes --------------------------------------------------------------------------

    def enter(self, phase: Phase, message: str) -> None:
        if self.phase is not phase:
            self.status.phase_started_at = self.now
        self.status.phase = phase
        self.status.message = message

    def act(self, action: act.Action) -> None:
        self.actions.append(action)

    def event(self, reason: EventReason, message: str, *, warning: bool = False) -> None:
        kind = act.EventType.WARNING if warning else act.EventType.NORMAL
        self.actions.append(act.PostEvent(type=kind, reason=reason, message=message))

    def switched(self, switch: Switch, message: str) -> None:
        """Records a move of the active Service, and its Event (a Warning when it goes back)."""
        self.switches.append(switch)
        back = switch is Switch.BACK
        reason = EventReason.SWITCH_BACK if back else EventReason.SWITCH_SERVICE
        self.event(reason, message, warning=back)

    def record_history(self, entry: models.HistoryEntry, limit: int) -> None:
        """Adds `entry` as the newest history entry, keeping at most `limit`."""
        self.status.history = [entry, *self.status.history][:limit]

    def finish_history(self, outcome: Outcome, reason: str) -> None:
        """Closes the newest in-progress entry of the current revision."""
        history = list(self.status.history)
        for index, entry in enumerate(history):
            if entry.revision == self.current_revision and entry.outcome is Outcome.IN_PROGRESS:
                history[index] = entry.model_copy(
                    update={"outcome": outcome, "finished_at": self.now, "reason": reason}
                )
                break
        self.status.history = history


def _color(value: str) -> Color | None:
    return Color(value) if value in (Color.BLUE, Color.GREEN) else None
