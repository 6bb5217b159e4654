"""Deployments `<release>-blue` and `<release>-green`: their body, writes, and what they say.

The body follows the contract: the selector is `{release, color}` only (selectors are
immutable, so nothing that changes per revision may be in it); pods carry the template's labels
plus release, colour and revision, and every container gets `GREENLIGHT_COLOR` and
`GREENLIGHT_REVISION`. A Deployment that exists without an ownerReference to this Release is
foreign and never written.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from greenlight import models, naming
from greenlight.kube.common import (
    JSON_PATCH,
    MERGE_PATCH,
    JsonObject,
    Kube,
    get_or_create,
    is_owned,
    managed_labels,
    owner_reference,
    quote,
    release_selector,
)
from greenlight.kube.errors import ForeignObject
from greenlight.kube.target import ReleaseTarget
from greenlight.models import Color
from greenlight.rollout.observation import ColorState

ENV_COLOR = "GREENLIGHT_COLOR"
ENV_REVISION = "GREENLIGHT_REVISION"
# Rollbacks use Greenlight's own stored revisions, so old ReplicaSets are of no use.
REPLICASET_HISTORY = 1


def collection_path(namespace: str) -> str:
    return f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments"


def object_path(namespace: str, name: str) -> str:
    return f"{collection_path(namespace)}/{quote(name)}"


def build(
    target: ReleaseTarget,
    *,
    color: Color,
    revision: int,
    template: Mapping[str, Any],
    replicas: int,
) -> JsonObject:
    """The whole Deployment that runs `revision`'s pod template in `color`."""
    selector = {models.LABEL_RELEASE: target.name, models.LABEL_COLOR: str(color)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": naming.deployment_name(target.name, color),
            "namespace": target.namespace,
            "labels": {
                **managed_labels(target),
                models.LABEL_COLOR: str(color),
                models.LABEL_REVISION: str(revision),
            },
            "ownerReferences": [owner_reference(target)],
        },
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": REPLICASET_HISTORY,
            "selector": {"matchLabels": selector},
            "template": pod_template(template, labels=selector, revision=revision, color=color),
        },
    }


def pod_template(
    template: Mapping[str, Any], *, labels: Mapping[str, str], revision: int, color: Color
) -> JsonObject:
    """A copy of `template` with the contract's pod labels and environment variables."""
    result: JsonObject = copy.deepcopy(dict(template))
    metadata = result.setdefault("metadata", {})
    metadata["labels"] = {
        **(metadata.get("labels") or {}),
        **labels,
        models.LABEL_REVISION: str(revision),
    }
    ours = [
        {"name": ENV_COLOR, "value": str(color)},
        {"name": ENV_REVISION, "value": str(revision)},
    ]
    spec = result.setdefault("spec", {})
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            kept = [
                var
                for var in container.get("env") or []
                if var.get("name") not in (ENV_COLOR, ENV_REVISION)
            ]
            container["env"] = kept + copy.deepcopy(ours)
    return result


def color_state(deployment: Mapping[str, Any]) -> ColorState:
    """What one Deployment says, judged ready as `kubectl rollout status` judges it."""
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    raw_replicas = spec.get("replicas")
    wanted = 1 if raw_replicas is None else int(raw_replicas)  # the API server's default
    updated = int(status.get("updatedReplicas") or 0)
    rolled_out = (
        int(status.get("observedGeneration") or 0) >= int(metadata.get("generation") or 0)
        and updated == wanted
        and int(status.get("availableReplicas") or 0) == wanted
        and int(status.get("replicas") or 0) == updated
    )
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    raw_revision = str(labels.get(models.LABEL_REVISION, ""))
    return ColorState(
        exists=True,
        revision=int(raw_revision) if raw_revision.isdigit() else None,
        replicas=wanted,
        ready_replicas=int(status.get("readyReplicas") or 0),
        rolled_out=rolled_out,
        container_port=naming.first_container_port(spec.get("template")),
    )


def observe(kube: Kube, target: ReleaseTarget) -> dict[Color, ColorState]:
    """Both colours from one LIST of the Release's labelled Deployments; one not owned by
    this Release is reported foreign. (A foreign one without our labels is found when it is
    about to be written: `create_or_patch` raises `ForeignObject`.)"""
    listed = kube.items(collection_path(target.namespace), label_selector=release_selector(target))
    by_name = {(item.get("metadata") or {}).get("name"): item for item in listed}
    states: dict[Color, ColorState] = {}
    for color in Color:
        item = by_name.get(naming.deployment_name(target.name, color))
        owned = item is not None and is_owned(item, target)
        if item is None:
            states[color] = ColorState()
        else:
            states[color] = color_state(item) if owned else ColorState(foreign=True)
    return states


def create_or_patch(kube: Kube, target: ReleaseTarget, body: JsonObject) -> None:
    """Create the Deployment, or replace its labels, replicas and pod template if it is ours.

    A JSON patch replaces the pod template whole, so a label, variable or container removed
    from the template goes away (a merge patch would keep removed map keys).
    """
    name = body["metadata"]["name"]
    path = object_path(target.namespace, name)
    existing = get_or_create(
        kube, collection=collection_path(target.namespace), path=path, body=body
    )
    if existing is None:
        return
    _refuse_foreign(existing, target)
    labels = {
        **((existing.get("metadata") or {}).get("labels") or {}),
        **body["metadata"]["labels"],
    }
    spec = body["spec"]
    operations = [
        {"op": "add", "path": "/metadata/labels", "value": labels},
        {"op": "add", "path": "/spec/replicas", "value": spec["replicas"]},
        {"op": "add", "path": "/spec/revisionHistoryLimit", "value": spec["revisionHistoryLimit"]},
        {"op": "add", "path": "/spec/template", "value": spec["template"]},
    ]
    kube.request("PATCH", path, body=operations, content_type=JSON_PATCH, retry_conflicts=True)


def scale(kube: Kube, target: ReleaseTarget, *, color: Color, replicas: int) -> None:
    """Set the replicas of `<release>-<color>` if it exists and is ours; its template stays."""
    path = object_path(target.namespace, naming.deployment_name(target.name, color))
    existing = kube.get(path)
    if existing is None:
        return
    _refuse_foreign(existing, target)
    if (existing.get("spec") or {}).get("replicas") == replicas:
        return
    try:
        kube.request(
            "PATCH",
            path,
            body={"spec": {"replicas": replicas}},
            content_type=MERGE_PATCH,
            retry_conflicts=True,
        )
    except ApiException as error:
        if error.status != 404:
            raise


def _refuse_foreign(existing: Mapping[str, Any], target: ReleaseTarget) -> None:
    if not is_owned(existing, target):
        name = (existing.get("metadata") or {}).get("name", "")
        raise ForeignObject(kind="Deployment", namespace=target.namespace, name=str(name))
