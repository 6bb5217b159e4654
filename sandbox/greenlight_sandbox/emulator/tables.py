"""Server-side printing: the ``Table`` answers that give ``kubectl get`` its columns.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io``. A real API server answers
with the columns it defines for built-in kinds, and with a custom resource's
``additionalPrinterColumns``; without a Table kubectl falls back to NAME and AGE only. Columns
of ``priority: 1`` are shown by ``-o wide``. Only the kinds the sandbox runs have columns of
their own (pods, Deployments, Services, EndpointSlices); any other kind gets NAME and AGE.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

Obj = dict[str, Any]
Cell = str | int | None
Column = tuple[str, str, int, Callable[[Obj], Cell]]  # name, type, priority, value


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def _age(obj: Obj) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = datetime.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    seconds = int((datetime.datetime.now(datetime.UTC) - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or []) or len(statuses)
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(pod: Obj) -> str:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    return str(status.get("phase") or "Pending")


def _restarts(pod: Obj) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def _ports(service: Obj) -> str:
    ports = (service.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _deployment_ready(deployment: Obj) -> str:
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    return f"{(deployment.get('status') or {}).get('readyReplicas') or 0}/{replicas}"


def _endpoints(slice_: Obj) -> str:
    addresses = [a for e in slice_.get("endpoints") or [] for a in e.get("addresses") or []]
    return ",".join(addresses) or "<unset>"


_BUILT_IN: dict[str, list[Column]] = {
    "Pod": [
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "integer", 0, _restarts),
        ("Age", "string", 0, _age),
        ("IP", "string", 1, lambda pod: (pod.get("status") or {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda pod: (pod.get("spec") or {}).get("nodeName") or "<none>"),
    ],
    "Deployment": [
        ("Ready", "string", 0, _deployment_ready),
        ("Up-to-date", "integer", 0, lambda d: (d.get("status") or {}).get("updatedReplicas", 0)),
        ("Available", "integer", 0, lambda d: (d.get("status") or {}).get("availableReplicas", 0)),
        ("Age", "string", 0, _age),
    ],
    "Service": [
        ("Type", "string", 0, lambda s: (s.get("spec") or {}).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda s: (s.get("spec") or {}).get("clusterIP") or "<none>"),
        ("Port(s)", "string", 0, _ports),
        ("Age", "string", 0, _age),
        (
            "Selector",
            "string",
            1,
            lambda s: (
                ",".join(
                    f"{k}={v}" for k, v in ((s.get("spec") or {}).get("selector") or {}).items()
                )
                or "<none>"
            ),
        ),
    ],
    "EndpointSlice": [
        ("AddressType", "string", 0, lambda e: e.get("addressType", "")),
        (
            "Ports",
            "string",
            0,
            lambda e: ",".join(str(p.get("port")) for p in e.get("ports") or []) or "<unset>",
        ),
        ("Endpoints", "string", 0, _endpoints),
        ("Age", "string", 0, _age),
    ],
}


def _json_path(obj: Obj, path: str) -> Cell:
    """The simple JSONPaths printer columns use: ``.status.phase``, ``.spec.x.y``."""
    node: Any = obj
    for part in path.strip().lstrip(".").split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str | int) or node is None else str(node)


def _column_at(path: str) -> Callable[[Obj], Cell]:
    return lambda obj: _json_path(obj, path)


def _crd_columns(crd: Obj | None, version: str) -> list[Column]:
    for served in ((crd or {}).get("spec") or {}).get("versions") or []:
        if served.get("name") != version:
            continue
        columns: list[Column] = []
        for column in served.get("additionalPrinterColumns") or []:
            path = str(column["jsonPath"])
            value = _age if path == ".metadata.creationTimestamp" else _column_at(path)
            kind = "string" if column.get("type") == "date" else column.get("type", "string")
            columns.append((column["name"], kind, int(column.get("priority", 0)), value))
        return columns
    return [("Age", "string", 0, _age)]


def table(kind: str, version: str, objects: Sequence[Obj], list_meta: Obj, crd: Obj | None) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects`` (each row carries partial object metadata)."""
    columns: list[Column] = [("Name", "string", 0, _name)]
    columns += _BUILT_IN.get(kind) or _crd_columns(crd, version)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind_,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": priority,
            }
            for name, kind_, priority, _ in columns
        ],
        "rows": [
            {
                "cells": [value(obj) for *_, value in columns],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata") or {},
                },
            }
            for obj in objects
        ],
    }
