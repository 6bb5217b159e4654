"""The shape of a `Release`: its spec and status, as pydantic models.

These models are the single source of truth for the resource's shape. The CRD's
`openAPIV3Schema` is generated from them (`greenlight.crd`), the operator parses specs with
them, and the API service and CLI read status through them. A field is described once, here,
with its bounds and its default; a test fails when the committed CRD drifts from them.

This module must stay free of I/O and of the Kubernetes client: it is imported everywhere.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "greenlight.dev"
VERSION = "v1alpha1"
KIND = "Release"
PLURAL = "releases"
SINGULAR = "release"
SHORT_NAMES = ("rel",)
API_VERSION = f"{GROUP}/{VERSION}"

# Labels and annotations of the contract.
LABEL_RELEASE = f"{GROUP}/release"
LABEL_COLOR = f"{GROUP}/color"
LABEL_REVISION = f"{GROUP}/revision"
ANNOTATION_PROMOTE = f"{GROUP}/promote"
ANNOTATION_ABORT = f"{GROUP}/abort"
ANNOTATION_ROLLBACK_TO = f"{GROUP}/rollback-to"
ACTION_ANNOTATIONS = (ANNOTATION_PROMOTE, ANNOTATION_ABORT, ANNOTATION_ROLLBACK_TO)

# A DNS-1035 label, as Services require of their names.
DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


class Color(enum.StrEnum):
    """The two slots a Release deploys into; traffic follows exactly one of them."""

    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Color:
        return Color.GREEN if self is Color.BLUE else Color.BLUE


class Phase(enum.StrEnum):
    """Where a Release is in its life; see the README for each phase's meaning."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    VERIFYING = "Verifying"
    AWAITING_PROMOTION = "AwaitingPromotion"
    POST_VERIFICATION = "PostVerification"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        """A terminal phase needs no more work until the spec or an annotation changes."""
        return self in _TERMINAL_PHASES


_TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED})
# Phases with a release in flight: the operator keeps ticking the Release while in one.
IN_FLIGHT_PHASES = frozenset(phase for phase in Phase if phase not in _TERMINAL_PHASES)


class GatePhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    PASSED = "Passed"
    FAILED = "Failed"


class Outcome(enum.StrEnum):
    """How one revision's release ended, as recorded in `status.history`."""

    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(alias=to_camel),
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


# ---------------------------------------------------------------------------------------------
# Spec
# ---------------------------------------------------------------------------------------------


class ServiceSpec(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.name) || !has(self.previewName) "
                    "|| self.name != self.previewName",
                    "message": "previewName must differ from name",
                }
            ]
        }
    )

    name: Annotated[
        str | None,
        Field(
            default=None,
            max_length=63,
            pattern=DNS_LABEL,
            description="Name of the active Service that carries production traffic. "
            "Defaults to the Release's name.",
        ),
    ]
    port: Annotated[
        int,
        Field(default=80, ge=1, le=65535, description="Port both Services expose."),
    ]
    target_port: Annotated[
        int | str | None,
        Field(
            default=None,
            description="Container port (number or name) the Services forward to. "
            "Defaults to the first container's first port.",
            json_schema_extra={"x-kubernetes-int-or-string": True},
        ),
    ]
    preview_name: Annotated[
        str | None,
        Field(
            default=None,
            max_length=63,
            pattern=DNS_LABEL,
            description="Name of the preview Service that selects the new colour before the "
            "switch; pre-switch gates probe it. Defaults to `<release name>-preview`.",
        ),
    ]


class StrategySpec(_Model):
    auto_promote: Annotated[
        bool,
        Field(
            default=True,
            description="Switch traffic as soon as every pre-switch gate passed. When false, "
            "the release waits in AwaitingPromotion for the `greenlight.dev/promote` annotation.",
        ),
    ]
    scale_down_delay_seconds: Annotated[
        int,
        Field(
            default=30,
            ge=0,
            le=86400,
            description="How long the previous colour stays warm (scaled up) after the switch, "
            "so that traffic can move back at once. Counted from the switch; the scale-down "
            "also waits until the active Service's EndpointSlices show only the new colour.",
        ),
    ]
    progress_deadline_seconds: Annotated[
        int,
        Field(
            default=600,
            ge=1,
            le=86400,
            description="The new colour must be ready and have passed every pre-switch gate "
            "within this many seconds of the release starting, or the release fails.",
        ),
    ]


class HttpProbeSpec(_Model):
    path: Annotated[
        str,
        Field(
            default="/",
            max_length=2048,
            pattern=r"^/",
            description="Path requested with GET; must start with `/`.",
        ),
    ]
    port: Annotated[
        int | None,
        Field(
            default=None,
            ge=1,
            le=65535,
            description="Service port to probe. Defaults to `spec.service.port`.",
        ),
    ]
    expect_status: Annotated[
        list[Annotated[int, Field(ge=100, le=599)]],
        Field(
            default_factory=lambda: [200],
            min_length=1,
            max_length=20,
            description="HTTP status codes that count as a pass.",
        ),
    ]
    timeout_seconds: Annotated[
        int,
        Field(
            default=2,
            ge=1,
            le=60,
            description="Seconds to wait for the answer; a slower answer is a failure.",
        ),
    ]


class GateSpec(BaseModel):
    """One health gate. Exactly one kind (`http` today) says how it probes.

    Unknown fields are kept (not refused) so that a gate kind this operator does not know
    reaches it and is reported on the Release, rather than being silently pruned.
    """

    model_config = ConfigDict(
        alias_generator=AliasGenerator(alias=to_camel),
        populate_by_name=True,
        extra="allow",
        frozen=True,
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )

    name: Annotated[
        str,
        Field(
            max_length=63,
            pattern=DNS_LABEL,
            description="Name of the gate, unique within its list; shown in `status.gates`.",
        ),
    ]
    http: Annotated[
        HttpProbeSpec | None,
        Field(default=None, description="Probe with an HTTP GET through the Service."),
    ]
    interval_seconds: Annotated[
        int,
        Field(default=2, ge=1, le=3600, description="Seconds between two probes."),
    ]
    success_threshold: Annotated[
        int,
        Field(
            default=1,
            ge=1,
            le=1000,
            description="Consecutive passes that pass the gate.",
        ),
    ]
    failure_threshold: Annotated[
        int,
        Field(
            default=3,
            ge=1,
            le=1000,
            description="Consecutive failures that fail the gate, and with it the release.",
        ),
    ]


_GATE_LIST_RULES = [
    {
        "rule": "self.all(g, self.exists_one(h, h.name == g.name))",
        "message": "gate names must be unique",
    }
]


class VerificationSpec(_Model):
    duration_seconds: Annotated[
        int,
        Field(
            default=60,
            ge=0,
            le=86400,
            description="How long after the switch the verification gates keep probing the "
            "active Service. A failure in this window moves traffic back to the stable colour.",
        ),
    ]
    gates: Annotated[
        list[GateSpec],
        Field(
            default_factory=list,
            max_length=32,
            description="Post-switch gates, probed against the active Service.",
            json_schema_extra={"x-kubernetes-validations": _GATE_LIST_RULES},
        ),
    ]


class ReleaseSpec(_Model):
    replicas: Annotated[
        int,
        Field(default=1, ge=0, le=10000, description="Pods in each colour while it serves."),
    ]
    template: Annotated[
        dict[str, Any],
        Field(
            description="The pod template, as in a Deployment (a PodTemplateSpec). A change "
            "here starts a new revision.",
            json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
        ),
    ]
    service: Annotated[
        ServiceSpec,
        Field(default_factory=ServiceSpec, description="The active and preview Services."),
    ]
    strategy: Annotated[
        StrategySpec,
        Field(default_factory=StrategySpec, description="How and when traffic moves."),
    ]
    gates: Annotated[
        list[GateSpec],
        Field(
            default_factory=list,
            max_length=32,
            description="Pre-switch gates, probed against the preview Service; all must pass "
            "before traffic moves.",
            json_schema_extra={"x-kubernetes-validations": _GATE_LIST_RULES},
        ),
    ]
    verification: Annotated[
        VerificationSpec | None,
        Field(default=None, description="Post-switch verification; none when absent."),
    ]
    revision_history_limit: Annotated[
        int,
        Field(
            default=10,
            ge=1,
            le=100,
            description="How many revisions `status.history` keeps (and can roll back to).",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Status
# ---------------------------------------------------------------------------------------------


class _StatusModel(BaseModel):
    """Status models tolerate fields they do not know: a newer operator may have added them."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(alias=to_camel),
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )


class GateStatus(_StatusModel):
    name: Annotated[str, Field(description="The gate's name from the spec.")]
    phase: Annotated[GatePhase, Field(default=GatePhase.PENDING, description="The gate's state.")]
    successes: Annotated[int, Field(default=0, ge=0, description="Consecutive passes so far.")]
    failures: Annotated[int, Field(default=0, ge=0, description="Consecutive failures so far.")]
    last_message: Annotated[
        str, Field(default="", description="What the last probe saw, for humans.")
    ]
    last_probe_time: Annotated[
        str | None, Field(default=None, description="When the gate was last probed (RFC 3339).")
    ]


class Condition(_StatusModel):
    type: Annotated[str, Field(description="Available, Progressing, Promoted, Degraded, ...")]
    status: Annotated[str, Field(description="True, False or Unknown.")]
    reason: Annotated[str, Field(default="", description="A CamelCase reason for machines.")]
    message: Annotated[str, Field(default="", description="A sentence for humans.")]
    last_transition_time: Annotated[
        str | None, Field(default=None, description="When status last changed (RFC 3339).")
    ]
    observed_generation: Annotated[
        int | None, Field(default=None, description="The spec generation this was computed for.")
    ]


class HistoryEntry(_StatusModel):
    revision: Annotated[int, Field(ge=1, description="The revision number.")]
    images: Annotated[
        list[str], Field(default_factory=list, description="The images of that revision.")
    ]
    color: Annotated[str, Field(default="", description="The colour it was deployed into.")]
    outcome: Annotated[Outcome, Field(description="How the release of that revision ended.")]
    started_at: Annotated[str | None, Field(default=None, description="RFC 3339.")]
    finished_at: Annotated[str | None, Field(default=None, description="RFC 3339.")]
    reason: Annotated[str, Field(default="", description="Why it ended that way.")]
    template_hash: Annotated[
        str, Field(default="", description="Hash of the pod template of that revision.")
    ]


class ReleaseStatus(_StatusModel):
    """What the operator stores on the Release. Everything it needs to resume lives here."""

    observed_generation: Annotated[
        int, Field(default=0, description="The spec generation the operator last acted on.")
    ]
    phase: Annotated[Phase, Field(default=Phase.PENDING, description="Where the release is.")]
    active_color: Annotated[
        str,
        Field(
            default="",
            description='The colour the active Service selects ("" before the first release).',
        ),
    ]
    preview_color: Annotated[
        str, Field(default="", description="The colour the preview Service selects.")
    ]
    stable_color: Annotated[
        str,
        Field(
            default="",
            description="The colour running the stable revision; traffic returns here on failure.",
        ),
    ]
    stable_revision: Annotated[
        int, Field(default=0, ge=0, description="The last revision that passed everything.")
    ]
    current_revision: Annotated[
        int, Field(default=0, ge=0, description="The revision being released.")
    ]
    latest_revision: Annotated[
        int,
        Field(
            default=0,
            ge=0,
            description="The highest revision number ever given; numbers are never reused, "
            "even after the history that listed them was trimmed.",
        ),
    ]
    current_template_hash: Annotated[
        str, Field(default="", description="Hash of the current revision's pod template.")
    ]
    observed_template_hash: Annotated[
        str,
        Field(
            default="",
            description="Hash of the spec's pod template the operator last acted on; a spec "
            "whose template hashes differently starts a new revision.",
        ),
    ]
    message: Annotated[str, Field(default="", description="What is happening or what went wrong.")]
    release_started_at: Annotated[
        str | None,
        Field(default=None, description="When the current revision's release started."),
    ]
    phase_started_at: Annotated[
        str | None, Field(default=None, description="When the current phase began.")
    ]
    switched_at: Annotated[str | None, Field(default=None, description="When traffic last moved.")]
    scale_down_color: Annotated[
        str,
        Field(
            default="",
            description="A colour waiting to be scaled down once its delay has passed and the "
            "active Service's EndpointSlices no longer list it.",
        ),
    ]
    scale_down_after: Annotated[
        str | None, Field(default=None, description="The earliest time of that scale-down.")
    ]
    actions_pending: Annotated[
        bool,
        Field(
            default=False,
            description="The last tick changed something in the cluster; the next one confirms "
            "it. Keeps the Release ticking until what status says is what the cluster has.",
        ),
    ]
    gates: Annotated[
        list[GateStatus],
        Field(default_factory=list, description="Progress of the gates being run now."),
    ]
    conditions: Annotated[
        list[Condition], Field(default_factory=list, description="Standard conditions.")
    ]
    history: Annotated[
        list[HistoryEntry],
        Field(default_factory=list, description="Revisions, newest first."),
    ]
