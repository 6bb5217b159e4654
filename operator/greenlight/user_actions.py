"""The actions people and pipelines take on a Release: promote, abort, rollback.

Each action is an annotation of the contract that the operator acts on and then removes; the
operator stays the only thing that moves traffic. This module decides, from the Release's
status alone, whether an action makes sense now and what it will do, so that the CLI and the
API service refuse the same things with the same words. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from greenlight import models
from greenlight.models import Color, Phase

IN_FLIGHT = models.IN_FLIGHT_PHASES


ACTION_ANNOTATIONS = models.ACTION_ANNOTATIONS


class ActionRefused(Exception):
    """The action makes no sense in the Release's current state; the message says why."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActionPlan:
    """The annotations to merge onto the Release, and one sentence on what will happen."""

    annotations: dict[str, str]
    description: str


def plan_promote(name: str, status: models.ReleaseStatus) -> ActionPlan:
    if status.phase is not Phase.AWAITING_PROMOTION:
        raise ActionRefused(
            f"release {name} is {status.phase}: promote applies only in AwaitingPromotion "
            "(after every pre-switch gate passed with autoPromote: false)"
        )
    return ActionPlan(
        # Names the revision it is meant for: a newer one superseding it is never promoted.
        annotations={models.ANNOTATION_PROMOTE: str(status.current_revision)},
        description=f"traffic of {name} moves to revision {status.current_revision} "
        f"({status.preview_color}), then post-switch verification runs if configured",
    )


def plan_abort(name: str, status: models.ReleaseStatus) -> ActionPlan:
    if status.phase not in IN_FLIGHT:
        raise ActionRefused(f"release {name} is {status.phase}: nothing is in flight to abort")
    if status.stable_revision:
        where = f"stays on (or returns to) stable revision {status.stable_revision}"
    else:
        where = "stays off: no revision has succeeded yet"
    return ActionPlan(
        annotations={models.ANNOTATION_ABORT: "true"},
        description=f"revision {status.current_revision} of {name} is abandoned; traffic {where}",
    )


def default_rollback_revision(status: models.ReleaseStatus) -> int | None:
    """The revision that succeeded before the stable one: what `rollback` with no revision means."""
    for entry in status.history:
        if entry.outcome is models.Outcome.SUCCEEDED and entry.revision != status.stable_revision:
            return entry.revision
    return None


def plan_rollback(
    name: str, status: models.ReleaseStatus, revision: int | None = None
) -> ActionPlan:
    if revision is None:
        revision = default_rollback_revision(status)
        if revision is None:
            raise ActionRefused(
                f"release {name} has no earlier successful revision to roll back to"
            )
    if revision < 1:
        raise ActionRefused(f"revision must be a positive number, not {revision}")
    known = {entry.revision: entry for entry in status.history}
    if revision not in known:
        listed = ", ".join(str(r) for r in sorted(known)) or "none"
        raise ActionRefused(
            f"release {name} has no revision {revision} in its history (known: {listed})"
        )
    if revision == status.stable_revision and status.phase not in IN_FLIGHT:
        raise ActionRefused(f"revision {revision} of {name} is already the stable revision")
    warm = warm_color(status, revision) is not None
    how = "at once, its colour is still warm" if warm else "through the gates again"
    images = ", ".join(known[revision].images)
    what = f"revision {revision} ({images})" if images else f"revision {revision}"
    return ActionPlan(
        annotations={models.ANNOTATION_ROLLBACK_TO: str(revision)},
        description=f"{name} releases {what} {how}",
    )


def warm_color(
    status: models.ReleaseStatus, revision: int, serving: Mapping[Color, int | None] | None = None
) -> Color | None:
    """Where `revision` is warm, so a rollback moves traffic to it at once, without gates: no
    release in flight, the revision once succeeded, and a colour other than the active one runs
    it with ready pods. That is `serving` (colour: revision) as the operator observes it, or
    else status: the colour kept warm for its scale-down runs the revision last released into it.
    """
    history = status.history  # newest first
    if status.phase in IN_FLIGHT or not any(
        e.revision == revision and e.outcome is models.Outcome.SUCCEEDED for e in history
    ):
        return None
    if serving is None:
        kept = next((e for e in history if e.color and e.color == status.scale_down_color), None)
        serving = {c: kept.revision for c in Color if kept is not None and c == kept.color}
    others = [c for c in Color if c != status.active_color]
    return next((c for c in others if serving.get(c) == revision), None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MalformedAnnotation:
    """An action annotation whose value the operator cannot act on, e.g. left by another tool."""

    key: str
    value: str
    expected: str


_EXPECTED = {
    models.ANNOTATION_PROMOTE: '"true" or the revision number it promotes',
    models.ANNOTATION_ABORT: '"true"',
    models.ANNOTATION_ROLLBACK_TO: 'a revision number such as "3"',
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActionRequests:
    """The action annotations on a Release, read by the one rule that the operator, the CLI,
    the API and the dashboard share: each is well formed (pending until the operator removes
    it) or malformed (the operator removes it with a Warning Event)."""

    promote: bool = False
    promote_revision: int | None = None  # None for a bare "true": the revision awaiting it
    abort: bool = False
    rollback_to: int | None = None
    malformed: tuple[MalformedAnnotation, ...] = ()

    @property
    def pending(self) -> list[str]:
        """The well-formed action annotations, in the contract's order."""
        present = (self.promote, self.abort, self.rollback_to is not None)
        return [key for key, here in zip(ACTION_ANNOTATIONS, present, strict=True) if here]


def _revision(value: str) -> int | None:
    # ASCII digits only: str.isdigit() also admits "³", which int() cannot read.
    return int(value) if value.isascii() and value.isdigit() and int(value) >= 1 else None


def read_actions(annotations: Mapping[str, str]) -> ActionRequests:
    """Blanks around a value and the case of "true" are forgiven ("True", " 3"), as the
    operator always forgave them; anything else is malformed."""
    values = {key: annotations[key].strip() for key in ACTION_ANNOTATIONS if key in annotations}
    promote = values.get(models.ANNOTATION_PROMOTE, "")
    rollback_to = values.get(models.ANNOTATION_ROLLBACK_TO, "")
    requests = ActionRequests(
        promote=promote.lower() == "true" or _revision(promote) is not None,
        promote_revision=_revision(promote),
        abort=values.get(models.ANNOTATION_ABORT, "").lower() == "true",
        rollback_to=_revision(rollback_to),
    )
    pending = requests.pending
    malformed = tuple(
        MalformedAnnotation(key=key, value=annotations[key], expected=_EXPECTED[key])
        for key in values
        if key not in pending
    )
    return dataclasses.replace(requests, malformed=malformed)


def refuse_beside_malformed(
    name: str, namespace: str, plan: ActionPlan, annotations: Mapping[str, str]
) -> None:
    """Refuses an action while another action annotation is malformed: the operator would
    drop that one with a Warning Event, and whoever set it would not learn why."""
    for bad in read_actions(annotations).malformed:
        if bad.key not in plan.annotations:
            raise ActionRefused(
                f'release {name} carries {bad.key}="{bad.value}", which is malformed '
                f"(expected {bad.expected}); remove it with: kubectl annotate release {name} "
                f"-n {namespace} {bad.key}-"
            )
