"""Stopping the operator and releasing its finalizer from every Release: what an uninstall does
before the operator goes, so that no Release (nor a namespace around it) stays Terminating.

The order matters: a running operator puts its finalizer back on the next event of a Release,
so it is scaled to zero and its pods are awaited first. Only the operator's own finalizer is
removed, by a JSON patch that tests the list it read, so that a concurrent change to the list
fails the patch (and is read again) instead of being overwritten.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes.client.exceptions import ApiException

from greenlight import models
from greenlight.kube.common import JSON_PATCH, MERGE_PATCH, Kube, quote


class StillRunning(Exception):
    """The operator's pods did not go within the time allowed."""


def _releases_path(namespace: str | None) -> str:
    base = f"/apis/{models.GROUP}/{models.VERSION}"
    if namespace is None:
        return f"{base}/{models.PLURAL}"
    return f"{base}/namespaces/{quote(namespace)}/{models.PLURAL}"


def stop_operator(
    kube: Kube,
    *,
    namespace: str,
    deployment: str,
    selector: str,
    timeout: float,
    poll: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Scales the operator's Deployment to zero and waits until no pod of `selector` is left
    (terminating ones included: they still act until they exit). A Deployment already gone is
    fine; pods outliving `timeout` raise `StillRunning`."""
    path = f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments/{quote(deployment)}"
    try:
        kube.request("PATCH", path, body={"spec": {"replicas": 0}}, content_type=MERGE_PATCH)
    except ApiException as error:
        if error.status != 404:
            raise
    pods = f"/api/v1/namespaces/{quote(namespace)}/pods"
    deadline = clock() + timeout
    while True:
        left = kube.items(pods, label_selector=selector)
        if not left:
            return
        if clock() >= deadline:
            names = ", ".join(sorted(pod["metadata"]["name"] for pod in left))
            raise StillRunning(f"operator pods still running after {timeout:g}s: {names}")
        sleep(poll)


def release_finalizers(
    kube: Kube, namespaces: Iterable[str | None], *, attempts: int = 5
) -> list[str]:
    """Removes the operator's finalizer (and no other) from every Release in `namespaces`
    (`None`: every namespace); returns `namespace/name` of each Release released."""
    released: list[str] = []
    for namespace in namespaces:
        listed = kube.request("GET", _releases_path(namespace))
        for item in listed.get("items") or []:
            meta = item.get("metadata") or {}
            carries = models.FINALIZER in (meta.get("finalizers") or [])
            if carries and _release_one(kube, meta["namespace"], meta["name"], attempts=attempts):
                released.append(f"{meta['namespace']}/{meta['name']}")
    return released


def _finalizers(kube: Kube, namespace: str, name: str) -> list[Any] | None:
    """The Release's finalizers, or None when it is gone; read by a list (the hook may list
    Releases, not get them)."""
    listed = kube.request(
        "GET", _releases_path(namespace), query={"fieldSelector": f"metadata.name={name}"}
    )
    for item in listed.get("items") or []:
        meta = item.get("metadata") or {}
        if meta.get("name") == name:
            return list(meta.get("finalizers") or [])
    return None


def _release_one(kube: Kube, namespace: str, name: str, *, attempts: int) -> bool:
    path = f"{_releases_path(namespace)}/{quote(name)}"
    for _ in range(attempts):
        current = _finalizers(kube, namespace, name)
        if current is None or models.FINALIZER not in current:
            return False
        remaining = [finalizer for finalizer in current if finalizer != models.FINALIZER]
        patch = [
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "replace", "path": "/metadata/finalizers", "value": remaining},
        ]
        try:
            kube.request("PATCH", path, body=patch, content_type=JSON_PATCH)
            return True
        except ApiException as error:
            if error.status == 404:
                return False
            # 422: the test failed, the list changed since it was read; read it again.
            if error.status not in {409, 422}:
                raise
    raise RuntimeError(f"the finalizers of {namespace}/{name} kept changing; giving up")
