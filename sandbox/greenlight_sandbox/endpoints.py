"""The EndpointSlice controller: which pods each Service sends traffic to, as
kube-controller-manager writes it.

:class:`EndpointSliceController` watches Services and Pods in every namespace. For each Service
with a selector it keeps the Service's EndpointSlices (``addressType: IPv4``, labelled
``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by``, owned by the
Service) listing every selected pod that has an IP and has not ended (phase ``Succeeded`` or
``Failed``). Each endpoint carries the conditions Kubernetes gives it:

- ``ready``: the pod is Ready and not terminating (always true with
  ``publishNotReadyAddresses``);
- ``serving``: the pod is Ready, terminating or not;
- ``terminating``: the pod has a ``deletionTimestamp``;

with ``targetRef`` (the Pod, with its uid) and ``nodeName``. Ports come from the Service's
ports, a named ``targetPort`` resolved against each pod's container ports; pods whose ports
resolve differently go to different slices, as in Kubernetes, so a Service whose pods agree
has exactly one. A Service whose selector matches nothing keeps one empty placeholder slice.

Slices are written only when they change, removed when the Service goes (the emulator's
garbage collection usually does it first), and left alone for Services without a selector
(their slices belong to whoever wrote them). A managed slice changed or removed by someone else
is put back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from greenlight_sandbox.emulator.selectors import labels_match, selector_from_dict
from greenlight_sandbox.informer import ControllerThread, Key, key_of

if TYPE_CHECKING:
    from greenlight_sandbox.emulator.cluster import EmulatedCluster

logger = logging.getLogger(__name__)
Obj = dict[str, Any]
SLICES = ("discovery.k8s.io/v1", "endpointslices")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# The fields of a slice this controller owns; anything else on it is left as found.
_OWNED_FIELDS = ("addressType", "endpoints", "ports")


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _suffix(seed: str, length: int = 5) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


def is_pod_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def selects_pod(service: Obj, pod: Obj) -> bool:
    selector = _spec(service).get("selector") or {}
    return bool(selector) and labels_match(selector_from_dict(selector), pod)


def _has_ended(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _resolve_port(service_port: Obj, pod: Obj) -> int | None:
    """The pod's port behind one Service port; None when a named port is not in the pod."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    protocol = service_port.get("protocol", "TCP")
    for container in _spec(pod).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    ports: list[Obj] = []
    for service_port in _spec(service).get("ports") or []:
        number = _resolve_port(service_port, pod)
        if number is None:
            continue  # Kubernetes leaves an unresolvable port out for this pod
        port: Obj = {
            "name": service_port.get("name", ""),
            "port": number,
            "protocol": service_port.get("protocol", "TCP"),
        }
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def _endpoint(service: Obj, pod: Obj) -> Obj:
    metadata = pod["metadata"]
    serving = is_pod_ready(pod)
    terminating = bool(metadata.get("deletionTimestamp"))
    ready = bool(_spec(service).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: Obj = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {
            "kind": "Pod",
            "name": metadata["name"],
            "namespace": metadata.get("namespace") or "",
            "uid": metadata.get("uid", ""),
        },
    }
    if _spec(pod).get("nodeName"):
        endpoint["nodeName"] = _spec(pod)["nodeName"]
    return endpoint


def slice_name(service_name: str, ports: list[Obj]) -> str:
    """A stable name per Service and port mapping (Kubernetes draws a random suffix)."""
    return f"{service_name}-{_suffix(service_name + json.dumps(ports, sort_keys=True))}"


def desired_slices(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The EndpointSlices a Service with a selector should have, given its namespace's pods."""
    metadata = service["metadata"]
    name, namespace = metadata["name"], metadata.get("namespace") or "default"
    groups: dict[str, tuple[list[Obj], list[Obj]]] = {}
    for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"])):
        if not selects_pod(service, pod) or not (pod.get("status") or {}).get("podIP"):
            continue
        if _has_ended(pod):
            continue
        ports = _endpoint_ports(service, pod)
        group = groups.setdefault(json.dumps(ports, sort_keys=True), (ports, []))
        group[1].append(_endpoint(service, pod))
    if not groups:
        groups[""] = ([], [])  # the placeholder: an empty slice, as Kubernetes keeps
    labels = {**_labels(service), SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
    owner = {
        "apiVersion": "v1",
        "kind": "Service",
        "name": name,
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return [
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name(name, ports),
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [owner],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }
        for ports, endpoints in groups.values()
    ]


def _differs(current: Obj, wanted: Obj) -> bool:
    if any(current.get(field) != wanted.get(field) for field in _OWNED_FIELDS):
        return True
    meta, wanted_meta = current.get("metadata") or {}, wanted["metadata"]
    labels = meta.get("labels") or {}
    if any(labels.get(key) != value for key, value in wanted_meta["labels"].items()):
        return True
    return bool(meta.get("ownerReferences") != wanted_meta["ownerReferences"])


def _version(obj: Obj) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)


class EndpointSliceController(ControllerThread):
    """Keeps every selector Service's EndpointSlices (see the module docstring).

    ``EndpointSliceController(cluster).start()``; ``stop()`` (or ``with``); ``wait_idle()``
    waits until every change seen has been written; ``errors`` keeps failed writes.
    """

    name = "endpointslice-controller"

    def __init__(self, cluster: EmulatedCluster) -> None:
        super().__init__(cluster)
        self._services = self.informer("/api/v1/services")
        self._pods = self.informer("/api/v1/pods")
        self._slices = self.informer("/apis/discovery.k8s.io/v1/endpointslices")
        self._services.on_change(self._on_service)
        self._pods.on_change(self._on_pod)
        self._slices.on_change(self._on_slice)
        self._syncing = False  # set once every informer has its initial objects
        self._dirty: set[Key] = set()
        self._working: set[Key] = set()
        # What this controller last wrote, by slice key: newer than the cache until the
        # watch brings the write back, so that a quick second sync does not write it again.
        self._written: dict[Key, Obj] = {}

    async def started(self) -> None:
        self._syncing = True
        for service in self._services.items():
            self._enqueue(key_of(service))
        for obj in self._slices.items():  # slices of Services that went while we were away
            self._enqueue_owner(obj)

    # --- reactions (on the loop) -----------------------------------------------------------

    def _on_service(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        if old is not None and event_type != "DELETED":
            before, after = _spec(old), _spec(obj)
            fields = ("selector", "ports", "publishNotReadyAddresses")
            unchanged = all(before.get(field) == after.get(field) for field in fields)
            if unchanged and _labels(old) == _labels(obj):
                return
        self._enqueue(key_of(obj))

    def _on_pod(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        namespace = key_of(obj)[0]
        for service in self._services.items(namespace):
            if selects_pod(service, obj) or (old is not None and selects_pod(service, old)):
                self._enqueue(key_of(service))

    def _on_slice(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        if event_type == "DELETED":
            self._written.pop(key_of(obj), None)
        self._enqueue_owner(obj)

    def _enqueue_owner(self, slice_obj: Obj) -> None:
        labels = _labels(slice_obj)
        if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(SERVICE_NAME_LABEL):
            self._enqueue((key_of(slice_obj)[0], labels[SERVICE_NAME_LABEL]))

    def _enqueue(self, service_key: Key) -> None:
        if not self._syncing:
            return  # started() syncs everything once the initial objects are in
        self._dirty.add(service_key)
        if service_key not in self._working:
            self._working.add(service_key)
            self.spawn(self._work(service_key))

    async def _work(self, service_key: Key) -> None:
        """Sync one Service until no change to it is left (one worker per Service)."""
        try:
            while service_key in self._dirty:
                self._dirty.discard(service_key)
                await self._sync(service_key)
        finally:
            self._working.discard(service_key)

    # --- one Service -----------------------------------------------------------------------

    def _managed_slices(self, namespace: str, service_name: str) -> dict[str, Obj]:
        found: dict[str, Obj] = {}
        for obj in self._slices.items(namespace):
            labels = _labels(obj)
            if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and (
                labels.get(SERVICE_NAME_LABEL) == service_name
            ):
                found[obj["metadata"]["name"]] = obj
        for (ns, name), obj in self._written.items():
            if ns == namespace and _labels(obj).get(SERVICE_NAME_LABEL) == service_name:
                cached = found.get(name)
                if cached is None or _version(obj) > _version(cached):
                    found[name] = obj
        return found

    async def _sync(self, service_key: Key) -> None:
        namespace, service_name = service_key
        service = self._services.cache.get(service_key)
        current = self._managed_slices(namespace, service_name)
        if service is not None and not _spec(service).get("selector"):
            return  # not managed here (see the module docstring)
        wanted = [] if service is None else desired_slices(service, self._pods.items(namespace))
        for obj in wanted:
            name = obj["metadata"]["name"]
            existing = current.pop(name, None)
            if existing is None:
                stored = await self.call(self.cluster.create, obj)
                if stored is None:  # a slice of that name appeared meanwhile: sync again
                    self._dirty.add(service_key)
                    continue
            elif _differs(existing, obj):
                changes = {field: obj[field] for field in _OWNED_FIELDS}
                changes["metadata"] = {
                    "labels": obj["metadata"]["labels"],
                    "ownerReferences": obj["metadata"]["ownerReferences"],
                }
                stored = await self.call(self.cluster.patch, *SLICES, namespace, name, changes)
                if stored is None:  # it went meanwhile: create it on the next round
                    self._written.pop((namespace, name), None)
                    self._dirty.add(service_key)
                    continue
            else:
                continue
            self._written[(namespace, name)] = stored
        for name in current:  # slices of a port mapping no pod has any more
            self._written.pop((namespace, name), None)
            await self.call(self.cluster.delete, *SLICES, namespace, name)
