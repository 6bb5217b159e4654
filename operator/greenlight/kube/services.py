"""The active and preview Services: their body, pointing them at a colour, and their state.

Each selects `{greenlight.dev/release, greenlight.dev/color}` with one port named `http`.
A Service that exists without the controller reference to this Release and the managed-by
label, or that is not a plain ClusterIP Service (a LoadBalancer, NodePort or ExternalName
Service, or one with external IPs, would publish or redirect the pods it is pointed at), is
foreign: it is reported as such (the decision turns it into an InvalidSpec) and any write to it
raises `ForeignObject`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from greenlight import models
from greenlight.kube.common import (
    MERGE_PATCH,
    JsonObject,
    Kube,
    get_or_create,
    is_owned,
    managed_labels,
    owner_reference,
    quote,
)
from greenlight.kube.errors import ForeignObject
from greenlight.kube.target import ReleaseTarget
from greenlight.models import Color
from greenlight.rollout.observation import ServiceState

PORT_NAME = "http"


def collection_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}/services"


def object_path(namespace: str, name: str) -> str:
    return f"{collection_path(namespace)}/{quote(name)}"


def selector(target: ReleaseTarget, color: Color) -> dict[str, str]:
    return {models.LABEL_RELEASE: target.name, models.LABEL_COLOR: str(color)}


def ports(target: ReleaseTarget, target_port: int | str | None = None) -> list[JsonObject]:
    return [
        {
            "name": PORT_NAME,
            "protocol": "TCP",
            "port": target.service_port,
            "targetPort": target.target_port if target_port is None else target_port,
        }
    ]


def build(
    target: ReleaseTarget, *, name: str, color: Color, target_port: int | str | None = None
) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": target.namespace,
            "labels": managed_labels(target),
            "ownerReferences": [owner_reference(target)],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector(target, color),
            "ports": ports(target, target_port),
        },
    }


def is_ours(service: Mapping[str, Any], target: ReleaseTarget) -> bool:
    """Owned by this Release (see `is_owned`) and of the only kind Greenlight makes."""
    spec = service.get("spec") or {}
    return (
        is_owned(service, target)
        and spec.get("type", "ClusterIP") == "ClusterIP"
        and not spec.get("externalIPs")
    )


def service_state(service: Mapping[str, Any] | None, target: ReleaseTarget) -> ServiceState:
    if service is None:
        return ServiceState()
    raw = ((service.get("spec") or {}).get("selector") or {}).get(models.LABEL_COLOR)
    color = Color(raw) if raw in tuple(Color) else None
    first = next(iter((service.get("spec") or {}).get("ports") or []), None)
    port = first.get("targetPort") if isinstance(first, dict) else None
    return ServiceState(
        exists=True,
        selected_color=color,
        foreign=not is_ours(service, target),
        target_port=port if isinstance(port, int | str) else None,
    )


def observe(kube: Kube, target: ReleaseTarget, name: str) -> ServiceState:
    return service_state(kube.get(object_path(target.namespace, name)), target)


def point(
    kube: Kube,
    target: ReleaseTarget,
    *,
    name: str,
    color: Color,
    target_port: int | str | None = None,
) -> None:
    """Create the Service selecting `color`, or patch an owned one to select it, with its
    selector and `target_port` (default: the spec's) in the same write.

    Nothing is written when the Service already selects `color` on the right port, so a
    repeated action makes no request beyond its read.
    """
    path = object_path(target.namespace, name)
    body = build(target, name=name, color=color, target_port=target_port)
    existing = get_or_create(
        kube, collection=collection_path(target.namespace), path=path, body=body
    )
    if existing is None:
        return
    if not is_ours(existing, target):
        raise ForeignObject(kind="Service", namespace=target.namespace, name=name)
    spec = existing.get("spec") or {}
    current_selector = spec.get("selector") or {}
    wanted_selector = selector(target, color)
    wanted_ports = ports(target, target_port)
    if current_selector == wanted_selector and _same_ports(spec.get("ports") or [], wanted_ports):
        return
    # Keys of a selector someone else added are removed: the Service must select one colour.
    patched_selector: dict[str, str | None] = {key: None for key in current_selector}
    patched_selector.update(wanted_selector)
    patch = {"spec": {"selector": patched_selector, "ports": wanted_ports}}
    kube.request("PATCH", path, body=patch, content_type=MERGE_PATCH, retry_conflicts=True)


def remove(kube: Kube, target: ReleaseTarget, name: str) -> None:
    """Delete the Service `name` if it is ours (gone already is fine; a foreign one stays)."""
    path = object_path(target.namespace, name)
    existing = kube.get(path)
    if existing is None or not is_owned(existing, target):
        return
    uid = (existing.get("metadata") or {}).get("uid")
    # Preconditioned on the uid read: a Service of that name created since is not ours to go.
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid}}
    try:
        kube.request("DELETE", path, body=body)
    except ApiException as error:
        if error.status not in (404, 409):
            raise


def _same_ports(current: list[Any], wanted: list[JsonObject]) -> bool:
    keys = ("name", "port", "targetPort")
    seen = [{key: port.get(key) for key in keys} for port in current if isinstance(port, dict)]
    return seen == [{key: port[key] for key in keys} for port in wanted]
