"""What the operator saw in the cluster on one tick, as plain values for the decision."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping

from greenlight import models
from greenlight.models import Color, ConditionReason
from greenlight.user_actions import ActionRequests


@dataclasses.dataclass(frozen=True, kw_only=True)
class ColorState:
    """One colour's Deployment (`<release>-blue` or `<release>-green`)."""

    exists: bool = False
    revision: int | None = None  # the `greenlight.dev/revision` label of its pod template
    replicas: int = 0  # spec.replicas
    ready_replicas: int = 0
    # Ready as `kubectl rollout status` judges it: the controller observed the latest generation
    # and every desired replica is updated and available.
    rolled_out: bool = False
    # The first container's first port in its pod template: where a Service selecting this
    # colour must send traffic (unless `spec.service.targetPort` says otherwise).
    container_port: int | None = None
    # A Deployment of this colour's name exists and is not owned by this Release. It is never
    # touched, and counts as absent for everything else.
    foreign: bool = False

    @property
    def serving(self) -> bool:
        """True when it has ready pods, so a Service may select it (invariant 1).

        Deliberately not `rolled_out`: a colour that is scaling still has ready pods, and
        traffic must be able to return to it. Whether a new revision is fully rolled out is
        the readiness gate of Progressing, which checks `rolled_out` as well.
        """
        return self.exists and self.ready_replicas > 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServiceState:
    exists: bool = False
    selected_color: Color | None = None  # the `greenlight.dev/color` in its selector
    foreign: bool = False  # exists but is not owned by this Release: never touched
    target_port: int | str | None = None  # the targetPort of its first port


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """One probe of one gate, made this tick. Results are only ever recorded, never invented."""

    gate: str
    ok: bool
    message: str
    at: datetime.datetime


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpecProblem:
    """Why the operator cannot act on the spec, naming the field (`spec.gates[1].tcp`)."""

    field: str
    message: str
    # Kept by the InvalidSpec condition: an object of another owner in the way is the one
    # problem that can go away without a change of the spec (see `spec_changes`).
    reason: ConditionReason = ConditionReason.INVALID_SPEC


@dataclasses.dataclass(frozen=True, kw_only=True)
class Observation:
    now: datetime.datetime
    release: str = ""  # the Release's name, for messages that name the objects derived from it
    generation: int
    template_hash: str  # hash of spec.template; a new hash is a new revision
    images: tuple[str, ...]  # images of spec.template's containers
    colors: Mapping[Color, ColorState]
    active_service: ServiceState
    preview_service: ServiceState
    # Colours of the endpoints the active Service's EndpointSlices list (None: not looked at).
    active_endpoint_colors: frozenset[Color] | None = None
    annotations: ActionRequests = dataclasses.field(default_factory=ActionRequests)
    # The operator's own note that an object it owns changed under it (its value is unique
    # per note, so only the note that was seen is removed).
    recheck: str | None = None
    probe_results: tuple[ProbeResult, ...] = ()
    spec_problem: SpecProblem | None = None
    # Revisions whose pod template is still stored (ControllerRevisions), for rollback-to.
    stored_revisions: frozenset[int] = frozenset()
    # The names the spec gives the active and preview Services now.
    service_names: tuple[str, str] = ("", "")
    # Services named in `status.serviceNames` that the spec no longer names, as observed.
    retired_services: Mapping[str, ServiceState] = dataclasses.field(default_factory=dict)
    # `spec.notifications` whose channels exist (read leniently, so that a Release whose spec
    # is invalid elsewhere still tells its channels that it failed).
    subscriptions: tuple[models.NotificationSpec, ...] = ()
