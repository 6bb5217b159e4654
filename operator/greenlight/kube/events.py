"""Kubernetes Events on a Release: every transition is one (invariant 7).

Each Event gets an explicit unique name, `<release>.<random hex>`, rather than relying on
`generateName` (which some API servers and emulators lack), and refers to the Release by uid
without a resourceVersion, so `kubectl describe release` lists it whatever version it reads.
"""

from __future__ import annotations

import datetime
import secrets

from kubernetes.client.exceptions import ApiException

from greenlight import models
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
) -> JsonObject:
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{target.name}.{secrets.token_hex(8)}",
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
    try:
        kube.request("POST", collection_path(body["metadata"]["namespace"]), body=body)
    except ApiException as error:
        if error.status != 409:  # the same Event, posted again by a retried request
            raise
