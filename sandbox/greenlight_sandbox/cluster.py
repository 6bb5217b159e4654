"""The sandbox cluster: the emulated API server with the controllers that make it a cluster.

:class:`Sandbox` puts together, in this process:

- the emulated API server (graceful pod deletion on, Services given cluster IPs), with the
  Release CRD generated from the operator's models;
- the Deployment controller (pods for Deployments, Deployment status);
- the kubelet (each pod's container a local process on its own loopback address);
- the EndpointSlice controller (endpoints follow pod readiness and termination);
- a proxy for every Service on its cluster IP, following the endpoints after a kube-proxy-like
  propagation lag, and the API server's service proxy path routed to the same pods.

The operator, the API service and any client are other processes that reach it through the
kubeconfig written into the work directory. Stopping the sandbox stops every pod process.
"""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import subprocess
import time
from types import TracebackType
from typing import Any, Self

from greenlight.crd import release_crd
from greenlight_sandbox.addresses import POD_NETWORK, SERVICE_NETWORK, AddressPool
from greenlight_sandbox.deployments import DeploymentController
from greenlight_sandbox.emulator import EmulatedCluster
from greenlight_sandbox.emulator.errors import ApiError
from greenlight_sandbox.endpoints import EndpointSliceController
from greenlight_sandbox.images import ImageMap
from greenlight_sandbox.informer import ControllerThread
from greenlight_sandbox.kubelet import Kubelet
from greenlight_sandbox.serviceproxy import ServiceProxies

Obj = dict[str, Any]
DEFAULT_LAG_SECONDS = 1.0
_APPLY_ATTEMPTS = 10


class VitalProcessExited(RuntimeError):
    """A process the sandbox's system needs (the operator) has ended."""


class Sandbox:
    """A running sandbox cluster; use as a context manager, or :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        workdir: pathlib.Path,
        *,
        propagation_lag_seconds: float = DEFAULT_LAG_SECONDS,
        images: ImageMap | None = None,
    ) -> None:
        self.workdir = workdir
        self.propagation_lag_seconds = propagation_lag_seconds
        self.images = images or ImageMap.load()
        self.ready_seconds: float | None = None  # how long start() took
        self._cluster: EmulatedCluster | None = None
        self._controllers: list[ControllerThread] = []
        self._proxies: ServiceProxies | None = None
        # Processes the system needs (the operator): name -> (process, its log)
        self._vital: dict[str, tuple[subprocess.Popen[bytes], pathlib.Path]] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        log_dir = self.workdir / "pods"
        log_dir.mkdir(exist_ok=True)
        try:
            cluster = EmulatedCluster(
                graceful_pod_deletion=True,
                service_addresses=AddressPool(SERVICE_NETWORK),
            ).start()
            self._cluster = cluster
            cluster.create(release_crd())
            proxies = ServiceProxies(cluster, propagation_lag_seconds=self.propagation_lag_seconds)
            self._proxies = proxies
            self._controllers = [
                DeploymentController(cluster),
                Kubelet(
                    cluster,
                    images=self.images,
                    pod_addresses=AddressPool(POD_NETWORK),
                    log_dir=log_dir,
                ),
                EndpointSliceController(cluster),
                proxies,
            ]
            for controller in self._controllers:
                controller.start()
            cluster.set_service_proxy(proxies.api_server_handler)
            shutil.copyfile(cluster.kubeconfig_path, self.kubeconfig_path)
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop the controllers (the kubelet stops every pod process), then the API server."""
        for controller in reversed(self._controllers):
            with contextlib.suppress(Exception):
                controller.stop()
        self._controllers = []
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- use -------------------------------------------------------------------------------

    @property
    def cluster(self) -> EmulatedCluster:
        if self._cluster is None:
            raise RuntimeError("The sandbox is not running.")
        return self._cluster

    @property
    def kubeconfig_path(self) -> pathlib.Path:
        """A kubeconfig for kubectl, the CLI, the operator: stable for the sandbox's life."""
        return self.workdir / "kubeconfig"

    @property
    def pod_log_dir(self) -> pathlib.Path:
        return self.workdir / "pods"

    def depends_on(self, name: str, process: subprocess.Popen[bytes], log: pathlib.Path) -> None:
        """Register a process the system cannot work without (see :meth:`check_vital`)."""
        self._vital[name] = (process, log)

    def check_vital(self) -> None:
        """Raise :class:`VitalProcessExited` if a registered process has ended: waiting on a
        Release that nobody will act on would only end in a timeout that hides the cause."""
        for name, (process, log) in self._vital.items():
            code = process.poll()
            if code is not None:
                tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
                raise VitalProcessExited(
                    f"The {name} exited with code {code}; the end of {log}:\n" + "\n".join(tail)
                )

    def service_address(
        self, namespace: str, name: str, port: int | str | None = None
    ) -> tuple[str, int]:
        """Where a Service's proxy listens: its cluster IP and port, reachable from here."""
        if self._proxies is None:
            raise RuntimeError("The sandbox is not running.")
        return self._proxies.address(namespace, name, port)

    def service_url(self, namespace: str, name: str, port: int | str | None = None) -> str:
        host, number = self.service_address(namespace, name, port)
        return f"http://{host}:{number}"

    def routing_caught_up(self, namespace: str, name: str) -> bool:
        """Whether the Service's proxy routes new connections to exactly its ready endpoints.

        The proxy follows the EndpointSlices a propagation lag late; until it caught up, a
        colour that has just lost its traffic may still be sent some.
        """
        if self._proxies is None:
            raise RuntimeError("The sandbox is not running.")
        slices = self.cluster.list(
            "discovery.k8s.io/v1",
            "endpointslices",
            namespace,
            label_selector=f"kubernetes.io/service-name={name}",
        )
        ready = {
            address
            for item in slices
            for endpoint in item.get("endpoints") or []
            if (endpoint.get("conditions") or {}).get("ready", True)
            for address in endpoint.get("addresses") or []
        }
        service = self.cluster.get("v1", "services", namespace, name) or {}
        ports = (service.get("spec") or {}).get("ports") or [{}]
        port_name = str(ports[0].get("name") or "")
        routed = {host for host, _ in self._proxies.endpoints(namespace, name, port_name)}
        return routed == ready

    def ensure_namespace(self, name: str) -> None:
        if self.cluster.get("v1", "namespaces", None, name) is None:
            self.cluster.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            )

    def apply(self, obj: Obj) -> Obj:
        """Create ``obj``, or replace its spec and labels if it exists: fields left out of
        ``obj`` are removed, as `kubectl apply` removes what was dropped from a manifest."""
        metadata = obj["metadata"]
        namespace = metadata.get("namespace")
        plural = self.cluster.plural_of(obj["apiVersion"], obj["kind"])
        try:
            return self.cluster.create(obj)
        except ApiError as error:
            if error.code != 409:
                raise
        for _ in range(_APPLY_ATTEMPTS):  # the operator may write the object in between
            existing = self.cluster.get(obj["apiVersion"], plural, namespace, metadata["name"])
            if existing is None:  # deleted in between: create it after all
                return self.cluster.create(obj)
            existing["metadata"]["labels"] = metadata.get("labels") or {}
            existing["spec"] = obj["spec"]
            try:
                return self.cluster.replace(existing)
            except ApiError as error:
                if error.code != 409:
                    raise
        raise RuntimeError(f"{plural}/{metadata['name']} kept changing; it was not applied.")
