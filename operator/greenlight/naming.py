"""Names and hashes derived from a Release: object names, pod colours, template hashes, and
the name and namespace an object's metadata gives.

This module owns every name the operator gives to the objects of a Release, so that the
handlers, the cluster adapters, the CLI and the tests agree on them. It is pure: no I/O, no
client, no clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from greenlight import models
from greenlight.models import Color


def deployment_name(release: str, color: Color) -> str:
    return f"{release}-{color}"


def active_service_name(release: str, spec: models.ReleaseSpec) -> str:
    return spec.service.name or release


def preview_service_name(release: str, spec: models.ReleaseSpec) -> str:
    return spec.service.preview_name or f"{release}-preview"


def revision_object_name(release: str, revision: int) -> str:
    """The ControllerRevision that keeps the pod template of one revision, for rollbacks."""
    return f"{release}-r{revision}"


def event_name(release: str, uid: str, sequence: int) -> str:
    """The Event of number `sequence` of one Release: the same Event always gets the same name
    (so posting it twice is refused as a duplicate), and a Release recreated under the same
    name (another uid) never collides with the Events its predecessor left."""
    incarnation = uid.replace("-", "").lower()[:12]
    return f"{release}.{incarnation}.{sequence}" if incarnation else f"{release}.{sequence}"


def template_hash(template: dict[str, Any]) -> str:
    """A stable hash of a pod template: equal templates hash equally whatever the key order."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def images_of(template: Any) -> tuple[str, ...]:
    """The images of a pod template's containers, in order: not those of init containers, nor
    a missing one (validation refuses it); none for what is not a pod template."""
    containers = _containers(template)
    return tuple(str(c["image"]) for c in containers if isinstance(c, dict) and c.get("image"))


def first_container_port(template: Any) -> int | None:
    """The first container's first port: where a Service sends traffic to this template's pods
    when `spec.service.targetPort` does not say."""
    containers = _containers(template)
    first = containers[0] if containers and isinstance(containers[0], dict) else {}
    ports = first.get("ports")
    port = ports[0] if isinstance(ports, list) and ports else None
    value = port.get("containerPort") if isinstance(port, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _containers(template: Any) -> list[Any]:
    pod = template.get("spec") if isinstance(template, dict) else None
    containers = pod.get("containers") if isinstance(pod, dict) else None
    return containers if isinstance(containers, list) else []


def pod_color(release: str, pod_name: str) -> Color | None:
    """The colour of a pod of `release`, from its name `<release>-<color>-<rs hash>-<suffix>`.

    Anchored with exactly two trailing segments, so release `web` never claims a pod of a
    release named `web-blue` (whose pods are `web-blue-blue-<hash>-<suffix>`).
    """
    match = re.fullmatch(rf"{re.escape(release)}-(blue|green)-[a-z0-9]+-[a-z0-9]+", pod_name)
    return Color(match.group(1)) if match else None


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")
