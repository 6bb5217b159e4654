"""Stored revisions: one ControllerRevision per revision, holding its pod template.

They are what makes `rollback-to` possible after a colour was redeployed, and what a restarted
operator deploys from (the spec only holds the newest template). Data of a ControllerRevision
is immutable, so a revision stored with another template is deleted and stored again.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from greenlight import models, naming
from greenlight.kube.common import (
    JsonObject,
    Kube,
    is_owned,
    managed_labels,
    owner_reference,
    quote,
    release_selector,
)
from greenlight.kube.errors import ForeignObject
from greenlight.kube.target import ReleaseTarget

ANNOTATION_TEMPLATE_HASH = f"{models.GROUP}/template-hash"


def collection_path(namespace: str) -> str:
    return f"/apis/apps/v1/namespaces/{quote(namespace)}/controllerrevisions"


def object_path(namespace: str, name: str) -> str:
    return f"{collection_path(namespace)}/{quote(name)}"


def build(target: ReleaseTarget, *, revision: int, template: Mapping[str, Any]) -> JsonObject:
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": naming.revision_object_name(target.name, revision),
            "namespace": target.namespace,
            "labels": {**managed_labels(target), models.LABEL_REVISION: str(revision)},
            "annotations": {ANNOTATION_TEMPLATE_HASH: naming.template_hash(dict(template))},
            "ownerReferences": [owner_reference(target)],
        },
        "revision": revision,
        "data": {"template": copy.deepcopy(dict(template))},
    }


def template_of(stored: Mapping[str, Any]) -> JsonObject | None:
    template = (stored.get("data") or {}).get("template")
    return template if isinstance(template, dict) else None


def store(kube: Kube, target: ReleaseTarget, *, revision: int, template: Mapping[str, Any]) -> None:
    """Store `template` as `revision`; storing the same template again changes nothing."""
    body = build(target, revision=revision, template=template)
    path = object_path(target.namespace, body["metadata"]["name"])
    for _ in range(2):
        try:
            kube.request("POST", collection_path(target.namespace), body=body)
            return
        except ApiException as error:
            if error.status != 409:
                raise
        existing = kube.get(path)
        if existing is None:
            continue  # deleted meanwhile: create it again
        if not is_owned(existing, target):
            raise ForeignObject(
                kind="ControllerRevision", namespace=target.namespace, name=body["metadata"]["name"]
            )
        if template_of(existing) == body["data"]["template"]:
            return
        _delete(kube, path)
    kube.request("POST", collection_path(target.namespace), body=body)


def read_template(kube: Kube, target: ReleaseTarget, revision: int) -> JsonObject | None:
    """The pod template of `revision`, or None when this Release has no such revision stored."""
    stored = kube.get(
        object_path(target.namespace, naming.revision_object_name(target.name, revision))
    )
    if stored is None or not is_owned(stored, target):
        return None
    return template_of(stored)


def list_revisions(kube: Kube, target: ReleaseTarget) -> dict[int, str]:
    """Revision number -> object name, for every revision this Release has stored."""
    listed = kube.items(collection_path(target.namespace), label_selector=release_selector(target))
    found: dict[int, str] = {}
    for item in listed:
        if not is_owned(item, target):
            continue
        number = item.get("revision")
        if isinstance(number, int) and number > 0:
            found[number] = str((item.get("metadata") or {}).get("name", ""))
    return found


def prune(kube: Kube, target: ReleaseTarget, *, keep: frozenset[int]) -> frozenset[int]:
    """Delete stored revisions not in `keep`; returns the revisions deleted."""
    deleted: set[int] = set()
    for number, name in list_revisions(kube, target).items():
        if number not in keep:
            _delete(kube, object_path(target.namespace, name))
            deleted.add(number)
    return frozenset(deleted)


def _delete(kube: Kube, path: str) -> None:
    try:
        kube.request("DELETE", path)
    except ApiException as error:
        if error.status != 404:
            raise
