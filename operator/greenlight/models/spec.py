"""`spec` of a Release: what to release and how to gate it. Each field carries its
description, bounds and default here, and the CRD is generated from these models."""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

from pydantic import AfterValidator, AliasGenerator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from greenlight.models.resource import DNS_LABEL


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(alias=to_camel),
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


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


# A gate's path must stay inside the Service it probes. Through the API server's service proxy
# it is appended to `.../services/{name}:{port}/proxy`, and HTTP clients resolve dot segments,
# so `/../../../../apis/...` would leave that prefix and GET anything the operator may read.
# Refused in the path (before `?`): `.` and `..` segments, their percent-encodings, encoded
# slashes and backslashes (`%2F`, `%5C`), backslashes anywhere, `#`, and `%` not followed by two
# hex digits. RE2 has no lookahead, so a segment is allowed when it has a character other than
# a (possibly encoded) dot, or three dots or more; the form is unambiguous, so it runs in
# linear time.
_DOT = r"(?:\.|%2[eE])"
_OTHER = r"(?:[^/?#\\%.]|%(?:[013-46-9a-fA-F][0-9a-fA-F]|2[0-9a-dA-D]|5[0-9abd-fABD-F]))"
_SEGMENT = rf"(?:{_DOT}*{_OTHER}(?:{_OTHER}|{_DOT})*|{_DOT}{{3,}})?"
GATE_PATH_PATTERN = rf"^(?:/{_SEGMENT})+(?:\?[^\\]*)?$"
_GATE_PATH = re.compile(GATE_PATH_PATTERN)


def _check_gate_path(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError("must start with `/`")
    if "\\" in path:
        raise ValueError("must not contain a backslash")
    if not _GATE_PATH.match(path):
        raise ValueError(
            "must not contain `.` or `..` segments (also percent-encoded), an encoded `/` or "
            "`\\`, `#`, or a `%` that does not start an escape: a gate probes its Service only"
        )
    return path


class HttpProbeSpec(_Model):
    path: Annotated[
        str,
        AfterValidator(_check_gate_path),
        Field(
            default="/",
            max_length=2048,
            description="Path requested with GET; must start with `/`. `.` and `..` segments "
            "(also percent-encoded), backslashes, encoded `/` and `\\`, and `#` are refused: a "
            "gate probes its Service and nothing else.",
            json_schema_extra={"pattern": GATE_PATH_PATTERN},
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


def unique_gate_names(gates: list[GateSpec]) -> list[GateSpec]:
    """Gates are known by name in `status.gates`: two of one name would share one count."""
    first: dict[str, int] = {}
    for index, gate in enumerate(gates):
        if gate.name in first:
            raise ValueError(
                f"names gate {gate.name!r} twice ([{first[gate.name]}] and [{index}]); "
                "gate names must be unique in their list"
            )
        first[gate.name] = index
    return gates


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

    _unique = field_validator("gates")(unique_gate_names)


class NotifyOn(enum.StrEnum):
    """The transitions a Release can tell people about."""

    AWAITING_PROMOTION = "AwaitingPromotion"
    SWITCHED = "Switched"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"


class NotificationSpec(_Model):
    """One channel and the transitions it hears about."""

    channel: Annotated[
        str,
        Field(
            min_length=1,
            max_length=253,
            pattern=r"^[-._a-zA-Z0-9]+$",
            description="A channel the operator's notification Secret defines (one of its "
            "keys). A name it does not define makes the spec invalid.",
        ),
    ]
    on: Annotated[
        list[NotifyOn],
        Field(
            default_factory=lambda: list(NotifyOn),
            max_length=len(NotifyOn),
            description="The transitions sent to this channel (default: all of them). Each is "
            "sent at most once per revision.",
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

    notifications: Annotated[
        list[NotificationSpec],
        Field(
            default_factory=list,
            max_length=16,
            description="Who hears about this Release's transitions: channels named in the "
            "operator's notification Secret, each with the transitions it wants.",
        ),
    ]

    _unique = field_validator("gates")(unique_gate_names)

    @property
    def verifying(self) -> VerificationSpec:
        """The post-switch verification; an empty one (no window, no gates) when absent."""
        return self.verification or VerificationSpec(duration_seconds=0)

    def gates_by_name(self, *, after_switch: bool) -> dict[str, GateSpec]:
        """Every gate by its name; a name both lists use is the gate of the list being run
        (post-switch after the switch, pre-switch before it)."""
        pre = {gate.name: gate for gate in self.gates}
        post = {gate.name: gate for gate in self.verifying.gates}
        return {**pre, **post} if after_switch else {**post, **pre}
