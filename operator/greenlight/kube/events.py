"""Kubernetes Events on a Release: every transition is one (invariant 7).

Each Event gets an explicit name derived from the Release's uid and the Event's number in
status (`naming.event_name`), rather than relying on `generateName` (which some API servers and
emulators lack): an Event posted again after a restart is refused as a duplicate, so it appears
once. It refers to the Release by uid without a resourceVersion, so `kubectl describe release`
lists it whatever version it reads.
"""

from __future__ import annotations

import datetime
import secrets

from kubernetes.client.exceptions import ApiException

from greenlight import models, naming
from greenlight.kube.common import JsonObject, Kube, quote
from greenlight.kube.target import ReleaseTarget

COMPONENT = "greenlight"
MAX_REASON = 128
MAX_MESSAGE = 1024


def collection_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}/events"


def build(
    target: ReleaseTarget,
    *,
    event_type: str,
    reason: str,
    message: str,
    now: datetime.datetime,
    sequence: int = 0,
) -> JsonObject:
    """The Event; `now` is when its transition happened. Without a `sequence`, a unique name."""
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = (
        naming.event_name(target.name, target.uid, sequence)
        if sequence
        else f"{target.name}.{secrets.token_hex(8)}"
    )
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name,
            "namespace": target.namespace,
        },
        "involvedObject": {
            "apiVersion": models.API_VERSION,
            "kind": models.KIND,
            "name": target.name,
            "namespace": target.namespace,
            "uid": target.uid,
        },
        "reason": reason[:MAX_REASON],
        "message": message[:MAX_MESSAGE],
        "type": event_type,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def post(kube: Kube, body: JsonObject) -> None:
    """Posts the Event; one of its name that says the same is this Event, posted before."""
    path = collection_path(body["metadata"]["namespace"])
    try:
        kube.request("POST", path, body=body)
    except ApiException as error:
        if error.status != 409:
            raise
    else:
        return
    existing = kube.request("GET", f"{path}/{quote(body['metadata']['name'])}")
    if (existing.get("reason"), existing.get("message")) == (body["reason"], body["message"]):
        return  # posted before (a retried request, or a restart before status recorded it)
    # Another Event under this number (a tick decided from a status older than the last
    # write): this one is posted too, under a name of its own, rather than lost.
    renamed = {
        **body,
        "metadata": {
            **body["metadata"],
            "name": f"{body['metadata']['name']}.{secrets.token_hex(4)}",
        },
    }
    kube.request("POST", path, body=renamed)
