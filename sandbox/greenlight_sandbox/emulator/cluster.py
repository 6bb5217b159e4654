"""The synchronous facade: :class:`EmulatedCluster` runs the emulator and talks to it.

The emulator is served on ``127.0.0.1:<free port>`` from a background thread that owns its
own event loop, so the facade works from plain (sync) tests, from other threads, and, via
the kubeconfig file it writes, from other processes. State changes made through the facade
go over HTTP, so watchers see them; they are harness requests (see
:mod:`greenlight_sandbox.emulator.client`). Never call the facade from the emulator's own
loop thread.
"""

from __future__ import annotations

import asyncio
import builtins
import pathlib
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import aiohttp.web
import yaml

from greenlight_sandbox.addresses import AddressPool
from greenlight_sandbox.emulator.auth import ADMIN_TOKEN, UserInfo
from greenlight_sandbox.emulator.client import HarnessClient, resource_path
from greenlight_sandbox.emulator.emulator import (
    GreenlightEmulator,
    PodLogSource,
    RecordedRequest,
)
from greenlight_sandbox.emulator.errors import ApiError
from greenlight_sandbox.emulator.faults import FaultRule
from greenlight_sandbox.emulator.proxy import ProxyHandler
from greenlight_sandbox.emulator.resources import ResourceType

if TYPE_CHECKING:
    import kubernetes.client

T = TypeVar("T")
CONTEXT = "emulated"


class EmulatedCluster:
    """An emulated Kubernetes API server for one test (or one benchmark, or the sandbox)."""

    def __init__(
        self,
        *,
        require_auth: bool = False,
        host: str = "127.0.0.1",
        graceful_pod_deletion: bool = False,
        service_addresses: AddressPool | None = None,
    ) -> None:
        """``graceful_pod_deletion``: pods stay terminating until a kubelet deletes them;
        ``service_addresses``: allocate Services' cluster IPs from this pool (see
        :mod:`~greenlight_sandbox.emulator.clusterips`); without it they get made-up ones."""
        self._require_auth = require_auth
        self._graceful_pod_deletion = graceful_pod_deletion
        self.service_addresses = service_addresses
        self._host = host
        self._port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self._emulator: GreenlightEmulator | None = None
        self._tmpdir: pathlib.Path | None = None
        self._client: HarnessClient | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("The emulated cluster is already started.")
        self._thread = threading.Thread(target=self._thread_main, name="emulated-apiserver")
        self._thread.daemon = True
        self._thread.start()
        if not self._started.wait(timeout=30):
            raise RuntimeError("The emulated API server did not start in 30 seconds.")
        if self._startup_error is not None:
            self._thread.join()
            raise RuntimeError("The emulated API server failed to start.") from self._startup_error
        self._client = HarnessClient(self._host, self._port)
        self._tmpdir = pathlib.Path(tempfile.mkdtemp(prefix="emulated-cluster-"))
        self.kubeconfig_path.write_text(yaml.safe_dump(self.kubeconfig()))
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop_requested is not None:
            self._loop.call_soon_threadsafe(self._stop_requested.set)
        self._thread.join(timeout=30)
        self._thread = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._startup_error = exc
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        emulator = GreenlightEmulator(
            require_auth=self._require_auth,
            graceful_pod_deletion=self._graceful_pod_deletion,
            service_addresses=self.service_addresses,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self._host, 0))
            self._port = sock.getsockname()[1]
        except BaseException:
            sock.close()
            raise
        async with emulator:
            server = aiohttp.web.Server(emulator, access_log=None)
            runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
            await runner.setup()
            try:
                site = aiohttp.web.SockSite(runner, sock)
                await site.start()
                self._emulator = emulator
                self._started.set()
                await self._stop_requested.wait()
                await emulator.stop_streams()
            finally:
                await runner.cleanup()
                sock.close()

    # --- connection details ----------------------------------------------------------------

    @property
    def emulator(self) -> GreenlightEmulator:
        """The emulator itself (its state belongs to the loop thread: read, do not write)."""
        if self._emulator is None:
            raise RuntimeError("The emulated cluster is not started.")
        return self._emulator

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def kubeconfig_path(self) -> pathlib.Path:
        if self._tmpdir is None:
            raise RuntimeError("The emulated cluster is not started.")
        return self._tmpdir / "kubeconfig"

    def kubeconfig(self, token: str = ADMIN_TOKEN) -> dict[str, Any]:
        """The kubeconfig document (context ``emulated``, bearer token user)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": "emulated-admin", "user": {"token": token}}],
            "contexts": [
                {
                    "name": CONTEXT,
                    "context": {
                        "cluster": CONTEXT,
                        "user": "emulated-admin",
                        "namespace": "default",
                    },
                }
            ],
            "current-context": CONTEXT,
        }

    def api_client(self) -> kubernetes.client.ApiClient:
        """A ``kubernetes`` ApiClient for this cluster; close it (or use it in ``with``)."""
        import kubernetes.client
        import kubernetes.config

        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig_path),
            context=CONTEXT,
            client_configuration=configuration,
        )
        return kubernetes.client.ApiClient(configuration)

    # --- the loop thread -------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop thread (where its state lives); return its result."""
        if self._loop is None or self._thread is None:
            raise RuntimeError("The emulated cluster is not started.")
        if threading.current_thread() is self._thread:
            return fn()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=30)

    def plural_of(self, api_version: str, kind: str) -> str:
        """The resource name the API server serves ``kind`` under (``NetworkPolicy`` ->
        ``networkpolicies``), from its registry rather than guessed from the kind."""
        return self._rtype(api_version, kind=kind).plural

    def _rtype(
        self, api_version: str, *, kind: str | None = None, plural: str | None = None
    ) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        registry = self.emulator.registry

        def lookup() -> ResourceType | None:
            if kind is not None:
                return registry.by_kind(api_version, kind)
            return registry.get(group, version, plural or "")

        rtype = self._call(lookup)
        if rtype is None:
            raise ApiError(404, f"the server does not serve {kind or plural} in {api_version}")
        return rtype

    @property
    def _http(self) -> HarnessClient:
        if self._client is None:
            raise RuntimeError("The emulated cluster is not started.")
        return self._client

    # --- objects ---------------------------------------------------------------------------

    def apply_crd(self, path: str | pathlib.Path) -> dict[str, Any]:
        """Create (or replace) the CRD(s) in a YAML file; return the (last) stored CRD."""
        stored: dict[str, Any] = {}
        for document in yaml.safe_load_all(pathlib.Path(path).read_text()):
            if not document:
                continue
            name = document["metadata"]["name"]
            crds = "apiextensions.k8s.io/v1"
            existing = self.get(crds, "customresourcedefinitions", None, name)
            if existing is None:
                stored = self.create(document)
            else:
                document = {**document, "metadata": {**document["metadata"]}}
                document["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                path_ = resource_path(crds, "customresourcedefinitions", None, name)
                stored = self._http.request("PUT", path_, body=document)
        return stored

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        rtype = self._rtype(obj["apiVersion"], kind=obj["kind"])
        namespace = None
        if rtype.namespaced:
            namespace = obj.get("metadata", {}).get("namespace") or "default"
        path = resource_path(rtype.api_version, rtype.plural, namespace)
        result: dict[str, Any] = self._http.request("POST", path, body=obj)
        return result

    def get(
        self, api_version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self._http.request(
                "GET", resource_path(api_version, plural, namespace, name)
            )
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        return result

    def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        query = {"labelSelector": label_selector or "", "fieldSelector": field_selector or ""}
        query = {key: value for key, value in query.items() if value}
        path = resource_path(api_version, plural, namespace)
        items: list[dict[str, Any]] = self._http.request("GET", path, query=query)["items"]
        return items

    def patch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        patch: dict[str, Any] | builtins.list[Any],
        subresource: str | None = None,
        *,
        content_type: str = "application/merge-patch+json",
    ) -> dict[str, Any]:
        path = resource_path(api_version, plural, namespace, name, subresource)
        result: dict[str, Any] = self._http.request(
            "PATCH", path, body=patch, content_type=content_type
        )
        return result

    def replace(self, obj: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        rtype = self._rtype(obj["apiVersion"], kind=obj["kind"])
        meta = obj.get("metadata", {})
        namespace = (meta.get("namespace") or "default") if rtype.namespaced else None
        path = resource_path(rtype.api_version, rtype.plural, namespace, meta["name"], subresource)
        result: dict[str, Any] = self._http.request("PUT", path, body=obj)
        return result

    def delete(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> None:
        """Delete an object (it stays, with a deletionTimestamp, while it has finalizers, and
        a running pod stays for its grace period with ``graceful_pod_deletion``)."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        path = resource_path(api_version, plural, namespace, name)
        self._http.request("DELETE", path, body=options if len(options) > 2 else None)

    def history(
        self, api_version: str, plural: str, namespace: str | None, name: str
    ) -> builtins.list[dict[str, Any]]:
        """Every stored version of the object, oldest first (across re-creations)."""
        rtype = self._rtype(api_version, plural=plural)
        store = self.emulator.store
        return self._call(lambda: store.history(rtype, namespace, name))

    # --- requests and faults ---------------------------------------------------------------

    @property
    def requests(self) -> builtins.list[RecordedRequest]:
        """The requests of the system under test (not the harness's own), oldest first."""
        return list(self.emulator.recorded)

    def clear_requests(self) -> None:
        self.emulator.recorded.clear()

    @property
    def server_errors(self) -> builtins.list[str]:
        """Tracebacks of the emulator's own failures (bugs); empty in a healthy run."""
        return list(self.emulator.server_errors)

    def inject_errors(
        self,
        *,
        method: str | None = None,
        path_regex: str,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next ``count`` matching requests get ``status`` with a ``Status`` body."""
        rule = FaultRule(method, re.compile(path_regex), status, count, delay, retry_after)
        self.emulator.faults.add(rule)

    def inject_timeout(
        self, *, method: str | None = None, path_regex: str, seconds: float, count: int = 1
    ) -> None:
        """Hold the next ``count`` matching requests for ``seconds``, then serve them."""
        rule = FaultRule(method, re.compile(path_regex), None, count, seconds)
        self.emulator.faults.add(rule)

    def clear_faults(self) -> None:
        self.emulator.faults.clear()

    # --- service proxy and auth ------------------------------------------------------------

    def set_service_proxy(self, handler: ProxyHandler | None) -> None:
        self.emulator.proxy_handler = handler

    def set_pod_log_source(self, source: PodLogSource | None) -> None:
        """Serve ``GET .../pods/{name}/log`` (``kubectl logs``) from ``source(namespace, pod,
        container) -> text | None``; without one, logs are "waiting to start"."""
        self.emulator.pod_logs = source

    @property
    def tokens(self) -> dict[str, UserInfo]:
        return self.emulator.authorizer.tokens

    def allow(
        self,
        user_or_group: str,
        verb: str,
        resource: str,
        namespace: str | None = None,
        group: str = "greenlight.dev",
    ) -> None:
        self.emulator.authorizer.allow(user_or_group, verb, resource, namespace, group)

    def revoke(
        self,
        user_or_group: str,
        verb: str,
        resource: str,
        namespace: str | None = None,
        group: str = "greenlight.dev",
    ) -> None:
        self.emulator.authorizer.revoke(user_or_group, verb, resource, namespace, group)
