"""Fake controllers: what kube-controller-manager would do, driven explicitly by a test.

The emulator has no controllers. :class:`FakeControllers` plays the Deployment and
EndpointSlice controllers on demand, writing through HTTP (so watchers see it):

- :meth:`FakeControllers.mark_deployment_ready` / :meth:`~FakeControllers.mark_deployment_unready`
  write a Deployment's status as the Deployment controller would once its pods are (not) ready;
- :meth:`FakeControllers.set_endpoints_for_service` writes the Service's EndpointSlice from
  the ready "pods" of the Deployments its selector matches (pods are only names and IPs:
  ``<deployment>-<10 hex>-<5 chars>``, ``10.0.x.y``; no Pod objects are created).

:meth:`FakeControllers.run_in_background` does the same reactively from watch events, in
its own thread and event loop, until stopped: Deployments become ready when created or
changed, and EndpointSlices follow Deployments and Service selectors after ``lag_seconds``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import TYPE_CHECKING, Any

from greenlight_sandbox.emulator.errors import ApiError
from greenlight_sandbox.emulator.selectors import labels_match, selector_from_dict

if TYPE_CHECKING:
    from greenlight_sandbox.emulator.background import BackgroundControllers
    from greenlight_sandbox.emulator.cluster import EmulatedCluster

Obj = dict[str, Any]
DEPLOYMENTS = ("apps/v1", "deployments")
SERVICES = ("v1", "services")
SLICES = ("discovery.k8s.io/v1", "endpointslices")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _suffix(seed: str, length: int = 5) -> str:
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in _digest(seed)[:length])


def template_hash(deployment: Obj) -> str:
    """A 10-hex-digit hash of the pod template (as a pod-template-hash)."""
    template = (deployment.get("spec") or {}).get("template") or {}
    return _digest(json.dumps(template, sort_keys=True)).hex()[:10]


def desired_replicas(deployment: Obj) -> int:
    replicas = (deployment.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def is_rolled_out(deployment: Obj) -> bool:
    """Whether the status already says: this generation, all replicas ready."""
    status = deployment.get("status") or {}
    replicas = desired_replicas(deployment)
    return bool(
        status.get("observedGeneration") == deployment["metadata"].get("generation")
        and (status.get("readyReplicas") or 0) == replicas
        and (status.get("updatedReplicas") or 0) == replicas
        and (status.get("availableReplicas") or 0) == replicas
    )


def selects(service: Obj, deployment: Obj) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return False
    template_meta = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return labels_match(selector_from_dict(selector), {"metadata": template_meta})


class FakeControllers:
    """The Deployment and EndpointSlice controllers, on demand (see the module docstring)."""

    def __init__(self, cluster: EmulatedCluster) -> None:
        self.cluster = cluster
        self._ips: dict[str, str] = {}
        self._lock = threading.Lock()
        self._background: BackgroundControllers | None = None

    # --- pods ------------------------------------------------------------------------------

    def pod_names(self, deployment: Obj, count: int | None = None) -> list[str]:
        """The names of a Deployment's first ``count`` (default: ready) pods."""
        if count is None:
            count = int((deployment.get("status") or {}).get("readyReplicas") or 0)
        name = deployment["metadata"]["name"]
        pod_hash = template_hash(deployment)
        return [f"{name}-{pod_hash}-{_suffix(f'{name}/{pod_hash}/{i}')}" for i in range(count)]

    def pod_ip(self, pod_name: str) -> str:
        """A stable, unique 10.0.x.y address per pod name."""
        with self._lock:
            if pod_name not in self._ips:
                n = len(self._ips) + 1
                self._ips[pod_name] = f"10.0.{n // 250}.{n % 250 + 1}"
            return self._ips[pod_name]

    # --- the Deployment controller ---------------------------------------------------------

    def mark_deployment_ready(self, namespace: str, name: str) -> Obj:
        """Status as after a finished rollout: every replica of this generation ready."""
        deployment = self._get_deployment(namespace, name)
        replicas = desired_replicas(deployment)
        status = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "unavailableReplicas": None,
            "conditions": [
                _condition("Available", "True", "MinimumReplicasAvailable"),
                _condition("Progressing", "True", "NewReplicaSetAvailable"),
            ],
        }
        return self.cluster.patch(*DEPLOYMENTS, namespace, name, {"status": status}, "status")

    def mark_deployment_unready(self, namespace: str, name: str, ready_replicas: int = 0) -> Obj:
        """Status with only ``ready_replicas`` ready (pods crash-looping or not started)."""
        deployment = self._get_deployment(namespace, name)
        replicas = desired_replicas(deployment)
        ready = min(ready_replicas, replicas)
        available = "True" if ready >= replicas else "False"
        status = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": replicas - ready or None,
            "conditions": [
                _condition("Available", available, "MinimumReplicasUnavailable"),
                _condition("Progressing", "True", "ReplicaSetUpdated"),
            ],
        }
        return self.cluster.patch(*DEPLOYMENTS, namespace, name, {"status": status}, "status")

    def _get_deployment(self, namespace: str, name: str) -> Obj:
        deployment = self.cluster.get(*DEPLOYMENTS, namespace, name)
        if deployment is None:
            raise ApiError(404, f'deployments.apps "{name}" not found')
        return deployment

    # --- the EndpointSlice controller ------------------------------------------------------

    def endpoint_slice_name(self, service_name: str) -> str:
        return f"{service_name}-{_suffix(f'slice/{service_name}')}"

    def set_endpoints_for_service(self, namespace: str, service_name: str) -> Obj | None:
        """Write the Service's EndpointSlice from its Deployments' ready pods.

        Returns the stored slice, or None for a missing Service or one without a selector.
        """
        service = self.cluster.get(*SERVICES, namespace, service_name)
        if service is None or not (service.get("spec") or {}).get("selector"):
            return None
        deployments = [d for d in self.cluster.list(*DEPLOYMENTS, namespace) if selects(service, d)]
        endpoints: list[Obj] = []
        for deployment in deployments:
            for pod in self.pod_names(deployment):
                endpoints.append(
                    {
                        "addresses": [self.pod_ip(pod)],
                        "conditions": {"ready": True, "serving": True, "terminating": False},
                        "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace},
                    }
                )
        ports = [
            {
                "name": port.get("name", ""),
                "port": _target_port(port, deployments),
                "protocol": port.get("protocol", "TCP"),
            }
            for port in (service.get("spec") or {}).get("ports") or []
        ]
        slice_name = self.endpoint_slice_name(service_name)
        body: Obj = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name,
                "namespace": namespace,
                "labels": {
                    SERVICE_NAME_LABEL: service_name,
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": service_name,
                        "uid": service["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }
        if self.cluster.get(*SLICES, namespace, slice_name) is None:
            try:
                return self.cluster.create(body)
            except ApiError as exc:
                if exc.code != 409:
                    raise
        changes = {k: body[k] for k in ("endpoints", "ports")}
        changes["metadata"] = {"labels": body["metadata"]["labels"]}
        return self.cluster.patch(*SLICES, namespace, slice_name, changes)

    def endpoints_of_service(self, namespace: str, service_name: str) -> list[str]:
        """The pod names in the Service's EndpointSlices (what a proxy would route to)."""
        slices = self.cluster.list(
            *SLICES, namespace, label_selector=f"{SERVICE_NAME_LABEL}={service_name}"
        )
        return [
            endpoint["targetRef"]["name"]
            for item in slices
            for endpoint in item.get("endpoints") or []
            if (endpoint.get("conditions") or {}).get("ready", True)
        ]

    # --- reacting in the background --------------------------------------------------------

    def run_in_background(
        self, auto_ready: bool = True, auto_endpoints: bool = True, lag_seconds: float = 0.0
    ) -> BackgroundControllers:
        """Start reacting to watch events in a thread; stop with ``.stop()`` (or ``with``)."""
        from greenlight_sandbox.emulator.background import BackgroundControllers

        if self._background is not None and self._background.running:
            raise RuntimeError("The fake controllers already run in the background.")
        self._background = BackgroundControllers(
            self, auto_ready=auto_ready, auto_endpoints=auto_endpoints, lag_seconds=lag_seconds
        )
        self._background.start()
        return self._background

    def stop(self) -> None:
        """Stop the background loop, if any."""
        if self._background is not None:
            self._background.stop()
            self._background = None


def _condition(kind: str, status: str, reason: str) -> Obj:
    return {"type": kind, "status": status, "reason": reason, "message": reason}


def _target_port(port: Obj, deployments: list[Obj]) -> int:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    for deployment in deployments:
        pod_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in pod_spec.get("containers") or []:
            for container_port in container.get("ports") or []:
                if container_port.get("name") == target:
                    return int(container_port["containerPort"])
    return int(port.get("port", 0))
