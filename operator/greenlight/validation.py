"""What the schema lets through but the operator cannot act on, named by field.

The CRD's schema rejects most mistakes at admission. What it cannot express is checked here,
before anything is deployed: pydantic's own checks (for objects applied before the CRD was
updated), gate kinds this operator does not know, a Service port with nowhere to go, and a
replica count that could never receive traffic. Each problem names the field, as in
`spec.gates[1].tcp`, so that status and the Event tell the user exactly what to fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import pydantic

from greenlight import models, naming
from greenlight.gates import factory
from greenlight.gates.base import Gate, Transport
from greenlight.rollout.observation import SpecProblem


@dataclasses.dataclass(frozen=True, kw_only=True)
class ValidSpec:
    spec: models.ReleaseSpec
    target_port: int | str

    def gates(self, transport: Transport) -> dict[str, Gate]:
        """Every gate of the spec, built, by the field that declares it: `spec.gates[0]`."""
        return {
            where: factory.build_gate(gate, where, transport)
            for where, gate in _declared_gates(self.spec)
        }


def validate_spec(
    raw: dict[str, Any],
    *,
    name: str | None = None,
    channels: Collection[str] | None = None,
) -> ValidSpec | SpecProblem:
    """The parsed spec with its resolved target port, or the first problem found.

    `name` is the Release's: the CRD limits it so that every name derived from it fits, but
    a Release stored before that rule (or by a server that does not run it) is checked here.
    `channels` are the notification channels the operator's Secret defines (None: not known
    now, so not checked).
    """
    if name is not None and len(name) > models.MAX_RELEASE_NAME:
        return SpecProblem(
            field="metadata.name",
            message=f"is {len(name)} characters long; at most {models.MAX_RELEASE_NAME} fit in "
            f"the names derived from it (the preview Service {name}-preview)",
        )
    try:
        spec = models.ReleaseSpec.model_validate(raw)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        return SpecProblem(field=_field_path(first["loc"]), message=_lower(message))
    for where, gate in _declared_gates(spec):
        problem = factory.check_gate(gate, where)
        if problem is not None:
            return SpecProblem(field=problem.field, message=problem.message)
    channel_problem = _channel_problem(spec, channels)
    if channel_problem is not None:
        return channel_problem
    pod_problem = _pod_template_problem(spec.template)
    if pod_problem is not None:
        return pod_problem
    if spec.replicas < 1:
        return SpecProblem(
            field="spec.replicas",
            message="is 0: a Release needs at least one pod to receive traffic",
        )
    target_port = spec.service.target_port or naming.first_container_port(spec.template)
    if target_port is None:
        return SpecProblem(
            field="spec.service.targetPort",
            message="is not set and the first container declares no port; set one of them",
        )
    return ValidSpec(spec=spec, target_port=target_port)


def _channel_problem(
    spec: models.ReleaseSpec, channels: Collection[str] | None
) -> SpecProblem | None:
    if channels is None:
        return None
    for index, subscription in enumerate(spec.notifications):
        if subscription.channel not in channels:
            known = ", ".join(sorted(channels)) or "none"
            return SpecProblem(
                field=f"spec.notifications[{index}].channel",
                message=f"is {subscription.channel!r}, which the operator's notification "
                f"Secret does not define (its channels: {known})",
            )
    return None


def known_subscriptions(
    raw: dict[str, Any], channels: Collection[str] | None
) -> tuple[models.NotificationSpec, ...]:
    """`spec.notifications` read on its own, keeping those whose channel exists: a Release whose
    spec is invalid elsewhere still tells its channels that it failed."""
    found: list[models.NotificationSpec] = []
    entries = raw.get("notifications")
    for entry in entries if isinstance(entries, list) else []:
        try:
            subscription = models.NotificationSpec.model_validate(entry)
        except pydantic.ValidationError:
            continue
        if channels is None or subscription.channel in channels:
            found.append(subscription)
    return tuple(found)


def _pod_template_problem(template: dict[str, Any]) -> SpecProblem | None:
    """What the Deployment API would refuse in the pod template, checked before anything is
    created: the CRD's schema says the same, but an older CRD (or a server that skips it) lets
    an empty template through, and a server that does not validate Deployments would run it."""
    where = "spec.template.spec.containers"
    pod = template.get("spec")
    containers = pod.get("containers") if isinstance(pod, dict) else None
    if not isinstance(containers, list) or not containers:
        return SpecProblem(field=where, message="is empty: a pod needs at least one container")
    names: set[str] = set()
    for index, container in enumerate(containers):
        here = f"{where}[{index}]"
        if not isinstance(container, dict):
            return SpecProblem(field=here, message="is not an object")
        for key in ("name", "image"):
            value = container.get(key)
            if not isinstance(value, str) or not value:
                return SpecProblem(field=f"{here}.{key}", message="is required")
        if container["name"] in names:
            return SpecProblem(
                field=f"{here}.name", message=f"{container['name']!r} is used by another container"
            )
        names.add(container["name"])
        ports = container.get("ports")
        # Ports that are not a list are reported where they matter: the target port.
        for number, port in enumerate(ports if isinstance(ports, list) else []):
            value = port.get("containerPort") if isinstance(port, dict) else None
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
                return SpecProblem(
                    field=f"{here}.ports[{number}].containerPort",
                    message=f"is {value!r}; a port is a number from 1 to 65535",
                )
    return None


def _declared_gates(spec: models.ReleaseSpec) -> list[tuple[str, models.GateSpec]]:
    lists = (("spec.gates", spec.gates), ("spec.verification.gates", spec.verifying.gates))
    return [(f"{field}[{i}]", gate) for field, gates in lists for i, gate in enumerate(gates)]


def _field_path(location: tuple[int | str, ...]) -> str:
    path = "spec"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _lower(message: str) -> str:
    # A model's own check (a `ValueError`) arrives as "Value error, <its message>".
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:] if message else message
