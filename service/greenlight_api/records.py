"""A Release as the service holds it: parsed once when it changes, read many times.

A record keeps the raw object, its status parsed with `greenlight.models`, and its list
summary already encoded as JSON, so that listing 1,000 Releases costs a join, not 1,000
serialisations. Parsing is lenient: a spec or status this version cannot read still gives a
record (with the problem named in `spec_error` or `status_error`), never an exception.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import pydantic

from greenlight import models, naming, user_actions
from greenlight_api import schemas

Key = tuple[str, str]  # (namespace, name)

SHORT_NAMES = {
    models.ANNOTATION_PROMOTE: "promote",
    models.ANNOTATION_ABORT: "abort",
    models.ANNOTATION_ROLLBACK_TO: "rollback",
}


def _first_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(root)"
    return f"{where}: {error['msg']}"


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ReleaseRecord:
    body: dict[str, Any]
    namespace: str
    name: str
    generation: int
    resource_version: str
    status: models.ReleaseStatus
    spec: models.ReleaseSpec | None
    spec_error: str
    status_error: str

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    @property
    def annotations(self) -> dict[str, str]:
        found = (self.body.get("metadata") or {}).get("annotations") or {}
        return {str(k): str(v) for k, v in found.items()}

    @property
    def pending_actions(self) -> dict[str, str]:
        annotations = self.annotations
        pending = user_actions.read_actions(annotations).pending
        return {SHORT_NAMES[key]: annotations[key] for key in pending}

    @property
    def ended(self) -> bool:
        """The current generation's release is over and nothing asks for more."""
        return (
            self.status.phase.is_terminal
            and self.status.observed_generation >= self.generation
            and not self.pending_actions
        )

    def gate_progress(self) -> list[schemas.GateProgress]:
        after_switch = self.status.phase is models.Phase.POST_VERIFICATION
        specs = self.spec.gates_by_name(after_switch=after_switch) if self.spec else {}
        return [
            schemas.GateProgress(
                **gate.model_dump(
                    include={"name", "phase", "successes", "failures", "last_message"}
                ),
                success_threshold=getattr(specs.get(gate.name), "success_threshold", None),
                failure_threshold=getattr(specs.get(gate.name), "failure_threshold", None),
            )
            for gate in self.status.gates
        ]

    @functools.cached_property
    def summary(self) -> schemas.ReleaseSummary:
        status = self.status
        metadata = self.body.get("metadata") or {}
        raw_spec = self.body.get("spec") or {}
        return schemas.ReleaseSummary(
            namespace=self.namespace,
            name=self.name,
            generation=self.generation,
            observed_generation=status.observed_generation,
            resource_version=self.resource_version,
            created_at=metadata.get("creationTimestamp"),
            phase=status.phase,
            message=status.message,
            waiting=status.waiting.message if status.waiting else "",
            active_color=status.active_color,
            preview_color=status.preview_color,
            stable_revision=status.stable_revision,
            current_revision=status.current_revision,
            images=list(
                naming.images_of(raw_spec.get("template") if isinstance(raw_spec, dict) else None)
            ),
            replicas=self.spec.replicas if self.spec else None,
            auto_promote=self.spec.strategy.auto_promote if self.spec else None,
            gates=self.gate_progress(),
            pending_actions=self.pending_actions,
            ended=self.ended,
            spec_error=self.spec_error,
        )

    @functools.cached_property
    def summary_json(self) -> bytes:
        return self.summary.model_dump_json(by_alias=True).encode()

    def detail(self) -> schemas.ReleaseDetail:
        status_json = self.status.model_dump(mode="json", by_alias=True)
        spec_json = (
            self.spec.model_dump(mode="json", by_alias=True, exclude={"template"})
            if self.spec
            else None
        )
        return schemas.ReleaseDetail(
            **self.summary.model_dump(),
            spec=spec_json,
            status=status_json,
            conditions=status_json["conditions"],
            history=status_json["history"],
            actions=available_actions(self.name, self.status),
        )


def _availability(plan: Any) -> schemas.ActionAvailability:
    try:
        return schemas.ActionAvailability(allowed=True, reason=plan().description)
    except user_actions.ActionRefused as refused:
        return schemas.ActionAvailability(allowed=False, reason=str(refused))


def available_actions(name: str, status: models.ReleaseStatus) -> schemas.AvailableActions:
    revisions = []
    for entry in status.history:
        try:
            user_actions.plan_rollback(name, status, entry.revision)
        except user_actions.ActionRefused:
            continue
        revisions.append(entry.revision)
    return schemas.AvailableActions(
        promote=_availability(lambda: user_actions.plan_promote(name, status)),
        abort=_availability(lambda: user_actions.plan_abort(name, status)),
        rollback=_availability(lambda: user_actions.plan_rollback(name, status)),
        rollback_revisions=sorted(set(revisions), reverse=True),
    )


def from_body(body: dict[str, Any]) -> ReleaseRecord:
    """The record of a Release object as the API server returned it."""
    metadata = body.get("metadata") or {}
    status, status_error = models.read_status(body)
    try:
        spec: models.ReleaseSpec | None = models.ReleaseSpec.model_validate(body.get("spec") or {})
        spec_error = ""
    except pydantic.ValidationError as exc:
        spec, spec_error = None, f"spec.{_first_error(exc)}"
    generation = metadata.get("generation")
    return ReleaseRecord(
        body=body,
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        generation=generation if isinstance(generation, int) else 0,
        resource_version=str(metadata.get("resourceVersion") or ""),
        status=status,
        spec=spec,
        spec_error=spec_error,
        status_error=f"status unreadable: {status_error}" if status_error else "",
    )
