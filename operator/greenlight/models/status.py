"""`status` of a Release: what the operator stores, and everything it needs to resume."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Annotated, Any

import pydantic
from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from greenlight.models.reasons import WaitingReason
from greenlight.models.resource import GatePhase, Outcome, Phase


def format_time(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with a `Z`, as status stores every time."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime.datetime | None:
    """Lenient: a time that is empty or not a timestamp (edited by hand) counts as unset."""
    if isinstance(value, str) and value:
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


# A timezone-aware moment, parsed and formatted here only; a string in the CRD and the API.
Timestamp = Annotated[
    datetime.datetime | None,
    pydantic.BeforeValidator(parse_time),
    pydantic.PlainSerializer(lambda t: None if t is None else format_time(t)),
    pydantic.WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "null"}]}),
]


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
        Timestamp, Field(default=None, description="When the gate was last probed (RFC 3339).")
    ]


class Condition(_StatusModel):
    type: Annotated[str, Field(description="Available, Progressing, Promoted, Degraded, ...")]
    status: Annotated[str, Field(description="True, False or Unknown.")]
    reason: Annotated[str, Field(default="", description="A CamelCase reason for machines.")]
    message: Annotated[str, Field(default="", description="A sentence for humans.")]
    last_transition_time: Annotated[
        Timestamp, Field(default=None, description="When status last changed (RFC 3339).")
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
    started_at: Annotated[Timestamp, Field(default=None, description="RFC 3339.")]
    finished_at: Annotated[Timestamp, Field(default=None, description="RFC 3339.")]
    reason: Annotated[str, Field(default="", description="Why it ended that way.")]
    template_hash: Annotated[
        str, Field(default="", description="Hash of the pod template of that revision.")
    ]


class PendingEvent(_StatusModel):
    """A transition whose Kubernetes Event is recorded but not yet known to be posted."""

    sequence: Annotated[
        int,
        Field(
            ge=1,
            description="The Event's number among this Release's Events; with the Release's "
            "uid it names the Event, so posting it again is refused as a duplicate.",
        ),
    ]
    type: Annotated[str, Field(default="Normal", description="Normal or Warning.")]
    reason: Annotated[str, Field(description="The Event's reason.")]
    message: Annotated[str, Field(default="", description="The Event's message.")]
    time: Annotated[
        Timestamp, Field(default=None, description="When the transition happened (RFC 3339).")
    ]


class PendingNotification(_StatusModel):
    """A transition to tell a channel about, recorded with the transition and not yet handed
    to delivery."""

    key: Annotated[str, Field(description="`<revision>:<transition>:<channel>`.")]
    channel: Annotated[str, Field(description="The channel's name in the notification Secret.")]
    transition: Annotated[str, Field(description="AwaitingPromotion, Switched, Succeeded, ...")]
    revision: Annotated[int, Field(default=0, ge=0, description="The revision it is about.")]
    phase: Annotated[str, Field(default="", description="The phase after the transition.")]
    reason: Annotated[str, Field(default="", description="The status message at the time.")]
    images: Annotated[list[str], Field(default_factory=list, description="The revision's images.")]
    gate: Annotated[str, Field(default="", description="The failing gate, if one failed.")]
    gate_result: Annotated[str, Field(default="", description="That gate's last result.")]
    started_at: Annotated[
        Timestamp, Field(default=None, description="When the revision's release started.")
    ]
    time: Annotated[
        Timestamp, Field(default=None, description="When the transition happened (RFC 3339).")
    ]


class Waiting(_StatusModel):
    """What the release waits for, as the last decision found it; shown, never acted on."""

    reason: Annotated[WaitingReason, Field(description="What it waits for, for machines.")]
    message: Annotated[str, Field(default="", description='For humans: "waiting: ...".')]


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
        Timestamp,
        Field(default=None, description="When the current revision's release started."),
    ]
    phase_started_at: Annotated[
        Timestamp, Field(default=None, description="When the current phase began.")
    ]
    switched_at: Annotated[Timestamp, Field(default=None, description="When traffic last moved.")]
    verification_started_at: Annotated[
        Timestamp,
        Field(
            default=None,
            description="When the current verification window began: on the first tick that "
            "saw the active Service select the new colour (unset until then), and again "
            "whenever the post-switch gates went unprobed for longer than their interval allows "
            "(an operator that was not running watched nothing).",
        ),
    ]
    scale_down_color: Annotated[
        str,
        Field(
            default="",
            description="A colour waiting to be scaled down once its delay has passed and the "
            "active Service's EndpointSlices no longer list it.",
        ),
    ]
    scale_down_after: Annotated[
        Timestamp, Field(default=None, description="The earliest time of that scale-down.")
    ]
    actions_pending: Annotated[
        bool,
        Field(
            default=False,
            description="The last tick changed something in the cluster; the next one confirms "
            "it. Keeps the Release ticking until what status says is what the cluster has.",
        ),
    ]
    service_names: Annotated[
        list[str],
        Field(
            default_factory=list,
            description="The Services this Release's operator created and has not removed: "
            "the active and preview ones, and one a renamed `spec.service` left behind until "
            "the new one serves.",
        ),
    ]
    event_sequence: Annotated[
        int,
        Field(
            default=0,
            ge=0,
            description="The number of the last Event recorded for this Release; each new "
            "one takes the next.",
        ),
    ]
    pending_events: Annotated[
        list[PendingEvent],
        Field(
            default_factory=list,
            description="Events recorded with the transitions that caused them and not yet "
            "known to be posted, oldest first (at most 32: the oldest are dropped beyond). "
            "Every tick posts them and then removes them, so a restart between the status "
            "write and the posting loses none.",
        ),
    ]
    notified: Annotated[
        list[str],
        Field(
            default_factory=list,
            description="Notifications decided so far, as `<revision>:<transition>:<channel>` "
            "(the newest 64): each is decided once, so it is sent at most once, also across "
            "a restart.",
        ),
    ]
    pending_notifications: Annotated[
        list[PendingNotification],
        Field(
            default_factory=list,
            description="Notifications recorded with their transitions and not yet handed to "
            "delivery (at most 32). They are removed from status before they are sent.",
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
    waiting: Annotated[
        Waiting | None, Field(default=None, description="What the release waits for now.")
    ]


def read_status(release: Mapping[str, Any]) -> tuple[ReleaseStatus, str]:
    """A Release's status, the one way the operator, the service and the CLI read it: with ""
    or, when it does not parse (a newer operator's, or edited by hand), an empty status and
    what is wrong, as `status.<field>: <problem>`."""
    try:
        return ReleaseStatus.model_validate(release.get("status") or {}), ""
    except ValidationError as error:
        first = error.errors()[0]
        return ReleaseStatus(), ".".join(["status", *map(str, first["loc"])]) + f": {first['msg']}"
