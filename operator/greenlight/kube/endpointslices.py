"""Which colours the active Service really sends traffic to, from its EndpointSlices.

The Service's selector says where traffic should go; its EndpointSlices say where it goes once
the endpoints controller caught up. The previous colour is scaled down only when the slices
list nothing but the new one (invariant 4), so a switch never drops requests still in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from greenlight import naming
from greenlight.kube.common import Kube, quote
from greenlight.kube.target import ReleaseTarget
from greenlight.models import Color

LABEL_SERVICE_NAME = "kubernetes.io/service-name"


def collection_path(namespace: str) -> str:
    return f"/apis/discovery.k8s.io/v1/namespaces/{quote(namespace)}/endpointslices"


def colors_of(release: str, slices: Iterable[Mapping[str, Any]]) -> frozenset[Color]:
    """The colours of the ready endpoints whose target is a pod of `release`.

    A missing `ready` condition counts as ready, as the EndpointSlice API asks consumers to do.
    """
    colors: set[Color] = set()
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            ref = endpoint.get("targetRef") or {}
            if ref.get("kind", "Pod") != "Pod":
                continue
            color = naming.pod_color(release, str(ref.get("name", "")))
            if color is not None:
                colors.add(color)
    return frozenset(colors)


def observe(kube: Kube, target: ReleaseTarget) -> frozenset[Color]:
    slices = kube.items(
        collection_path(target.namespace),
        label_selector=f"{LABEL_SERVICE_NAME}={target.active_service}",
    )
    return colors_of(target.name, slices)
