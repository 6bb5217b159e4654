"""What the decision asks the operator to do. Every action is idempotent: doing it twice has
the same effect as doing it once, which is what makes a restart at any point safe."""

from __future__ import annotations

import dataclasses
import datetime
import enum

from greenlight.models import Color


class ServiceRole(enum.StrEnum):
    ACTIVE = "active"
    PREVIEW = "preview"


class Switch(enum.Enum):
    """Which way a decision moved the active Service."""

    FORWARD = "forward"  # to a newer revision, or to the one a rollback names
    BACK = "back"  # to the stable revision, abandoning the release in flight


class EventType(enum.StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclasses.dataclass(frozen=True, kw_only=True)
class StoreRevision:
    """Keep the spec's current pod template as revision `revision` (a ControllerRevision)."""

    revision: int
    template_hash: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeployColor:
    """Create or update `<release>-<color>` to run revision `revision` with `replicas` pods."""

    color: Color
    revision: int
    replicas: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScaleColor:
    """Scale `<release>-<color>` (if it exists) to `replicas` pods, leaving its template."""

    color: Color
    replicas: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class PointService:
    """Create the Service of `role`, or patch it, so that it selects `color` and sends traffic
    to `target_port`, both in one write (None: the port the current spec resolves to)."""

    role: ServiceRole
    color: Color
    target_port: int | str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RemoveService:
    """Delete the owned Service `name` (one a renamed `spec.service` left behind)."""

    name: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RemoveAnnotation:
    """Remove an action annotation once it has been acted on (or refused); with `value`, only
    while it still has that value."""

    key: str
    value: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PruneRevisions:
    """Delete stored revisions that are not in `keep`."""

    keep: frozenset[int]


@dataclasses.dataclass(frozen=True, kw_only=True)
class PostEvent:
    """A Kubernetes Event on the Release: number `sequence` of its Events (0: not numbered
    yet), about a transition at `at` (None: now)."""

    type: EventType
    reason: str
    message: str
    sequence: int = 0
    at: datetime.datetime | None = None


Action = (
    StoreRevision
    | DeployColor
    | ScaleColor
    | PointService
    | RemoveService
    | RemoveAnnotation
    | PruneRevisions
    | PostEvent
)
