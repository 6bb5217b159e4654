"""Writes to the Release itself: its `/status` subresource and its action annotations.

Status is the operator's alone (Kopf never writes handler results there); it is written whole
as a merge patch, so every field the decision computed lands together. A Release deleted in the
meantime is not an error: there is nothing left to write to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from greenlight import models
from greenlight.kube.common import JSON_PATCH, MERGE_PATCH, Kube, quote
from greenlight.kube.target import ReleaseTarget


def object_path(namespace: str, name: str) -> str:
    return (
        f"/apis/{models.GROUP}/{models.VERSION}/namespaces/{quote(namespace)}"
        f"/{models.PLURAL}/{quote(name)}"
    )


def write_status(kube: Kube, target: ReleaseTarget, status: Mapping[str, Any]) -> bool:
    """Merge-patch `status` into the Release's status; False when the Release is gone."""
    path = object_path(target.namespace, target.name) + "/status"
    return _patch(kube, path, {"status": dict(status)})


def remove_annotation(
    kube: Kube, target: ReleaseTarget, key: str, *, value: str | None = None
) -> bool:
    """Remove one annotation (absent already is fine); False when the Release is gone.

    With `value`, only while the annotation still has it: a JSON patch that tests it first,
    so a newer value set meanwhile is kept (a failed test is not an error).
    """
    path = object_path(target.namespace, target.name)
    if value is None:
        return _patch(kube, path, {"metadata": {"annotations": {key: None}}})
    pointer = "/metadata/annotations/" + key.replace("~", "~0").replace("/", "~1")
    operations = [
        {"op": "test", "path": pointer, "value": value},
        {"op": "remove", "path": pointer},
    ]
    try:
        kube.request("PATCH", path, body=operations, content_type=JSON_PATCH)
    except ApiException as error:
        if error.status == 404:
            return False
        if error.status == 422:  # the test failed: another value now, kept for its own tick
            return True
        raise
    return True


def set_annotation(kube: Kube, namespace: str, name: str, key: str, value: str) -> bool:
    """Set one annotation on the Release; False when it is gone."""
    patch = {"metadata": {"annotations": {key: value}}}
    return _patch(kube, object_path(namespace, name), patch)


def _patch(kube: Kube, path: str, body: Mapping[str, Any]) -> bool:
    try:
        kube.request("PATCH", path, body=body, content_type=MERGE_PATCH, retry_conflicts=True)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
