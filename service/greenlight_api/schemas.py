"""What the API accepts and answers, as pydantic models (and so in the OpenAPI document).

camelCase on the wire, like the Release itself. Request bodies are strict: an unknown field,
a string where a number belongs or an absurd number is refused with 422, naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from greenlight import models

# Revisions count releases of one Release: anything past int32 is a typo or an attack.
MAX_REVISION = 2**31 - 1


class _Out(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(serialization_alias=to_camel),
        frozen=True,
    )


class RollbackRequest(BaseModel):
    """`{"revision": n}`; without a revision, the one that succeeded before the stable one."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    revision: Annotated[
        int | None,
        Field(
            default=None,
            ge=1,
            le=MAX_REVISION,
            description="The revision to release again; it must be in the Release's history.",
        ),
    ]


class GateProgress(_Out):
    name: str
    phase: models.GatePhase
    successes: int
    failures: int
    success_threshold: int | None = None
    failure_threshold: int | None = None
    last_message: str = ""


class ReleaseSummary(_Out):
    """One Release in a list: enough to show where it is, without its history."""

    namespace: str
    name: str
    generation: int
    observed_generation: int
    resource_version: str
    created_at: str | None
    phase: models.Phase
    message: str
    waiting: str = Field(
        default="",
        description="What the release waits for now, in words (`status.waiting.message`); "
        "empty when it waits for nothing.",
    )
    active_color: str
    preview_color: str
    stable_revision: int
    current_revision: int
    images: list[str]
    replicas: int | None
    auto_promote: bool | None
    gates: list[GateProgress]
    pending_actions: dict[str, str] = Field(
        description="Action annotations the operator has not acted on yet."
    )
    ended: bool = Field(
        description="The release of the current generation is over (a terminal phase, "
        "observed, with no action pending): an event stream of it would end now."
    )
    spec_error: str = ""


class ActionAvailability(_Out):
    allowed: bool
    reason: str = Field(description="What the action would do, or why it is refused now.")


class AvailableActions(_Out):
    promote: ActionAvailability
    abort: ActionAvailability
    rollback: ActionAvailability
    rollback_revisions: list[int] = Field(
        description="Revisions of the history that `rollback` accepts now."
    )


class ReleaseDetail(ReleaseSummary):
    """One Release: its summary, its spec in brief, its whole status and what can be done."""

    spec: dict[str, Any] | None
    status: dict[str, Any]
    conditions: list[dict[str, Any]]
    history: list[dict[str, Any]]
    actions: AvailableActions


class ReleaseList(_Out):
    items: list[ReleaseSummary]


class ActionAccepted(_Out):
    action: str
    namespace: str
    name: str
    annotations: dict[str, str]
    description: str


class Problem(BaseModel):
    """Every error answer: `detail` says what is wrong, for humans."""

    detail: str | list[dict[str, Any]]
    message: str | None = None


# Every status `api.errors` can answer on a Release route: 429 too, once a client sends too many
# new tokens.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 404, 422, 429, 503)
}


class Version(BaseModel):
    version: str
    revision: str
    color: str


class Readiness(BaseModel):
    ready: bool
    reason: str
