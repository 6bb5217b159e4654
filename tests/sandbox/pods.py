"""Hand-made pods for the network tests: Pod objects written as a kubelet would, and tiny HTTP
servers on their loopback addresses standing in for the pods' processes."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import threading
from collections.abc import Iterator
from typing import Any

from greenlight_sandbox.addresses import AddressPool
from greenlight_sandbox.emulator import EmulatedCluster

Obj = dict[str, Any]
PODS = ("v1", "pods")
SERVICES = ("v1", "services")
SLICES = ("discovery.k8s.io/v1", "endpointslices")
# Keeps a deleted pod around, terminating, until the test lets it go (graceful deletion).
FINALIZER = "tests.greenlight.dev/graceful"


def random_pool(network: str) -> AddressPool:
    """A pool on a random /24 of ``network``: test runs in parallel on one machine (or a
    sandbox running beside them) rarely meet on the same addresses."""
    subnets = list(ipaddress.IPv4Network(network).subnets(new_prefix=24))[1:]
    return AddressPool(str(random.choice(subnets)))


def create_pod(
    cluster: EmulatedCluster,
    name: str,
    labels: dict[str, str],
    ip: str | None,
    *,
    ports: dict[str, int] | None = None,
    ready: bool = True,
    namespace: str = "default",
    node: str = "sandbox",
) -> Obj:
    """Create a Pod through the API, then write its status through ``/status``."""
    container_ports = [
        {"name": port_name, "containerPort": number, "protocol": "TCP"}
        for port_name, number in (ports if ports is not None else {"http": 8080}).items()
    ]
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "finalizers": [FINALIZER],
            },
            "spec": {
                "nodeName": node,
                "containers": [{"name": "app", "image": "app:1", "ports": container_ports}],
            },
        }
    )
    status: Obj = {"phase": "Running" if ip else "Pending", "conditions": _conditions(ready)}
    if ip:
        status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
    return cluster.patch(*PODS, namespace, name, {"status": status}, "status")


def _conditions(ready: bool) -> list[Obj]:
    value = "True" if ready else "False"
    return [{"type": "Ready", "status": value}, {"type": "ContainersReady", "status": value}]


def set_ready(cluster: EmulatedCluster, name: str, ready: bool, namespace: str = "default") -> Obj:
    patch = {"status": {"conditions": _conditions(ready)}}
    return cluster.patch(*PODS, namespace, name, patch, "status")


def terminate(cluster: EmulatedCluster, name: str, namespace: str = "default") -> None:
    """Delete the pod: it stays, terminating, until :func:`release` lets it go."""
    cluster.delete(*PODS, namespace, name)


def release(cluster: EmulatedCluster, name: str, namespace: str = "default") -> None:
    cluster.patch(*PODS, namespace, name, {"metadata": {"finalizers": []}})


def service(
    name: str,
    selector: dict[str, str],
    *,
    ports: list[Obj] | None = None,
    namespace: str = "default",
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": selector,
            "ports": ports or [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def slices_of(cluster: EmulatedCluster, service_name: str, namespace: str = "default") -> list[Obj]:
    selector = f"kubernetes.io/service-name={service_name}"
    return cluster.list(*SLICES, namespace, label_selector=selector)


def endpoints_of(cluster: EmulatedCluster, service_name: str) -> dict[str, Obj]:
    """Pod name -> the endpoint's conditions, over all of the Service's slices."""
    return {
        endpoint["targetRef"]["name"]: endpoint["conditions"]
        for item in slices_of(cluster, service_name)
        for endpoint in item.get("endpoints") or []
    }


class PodServers:
    """Tiny HTTP servers, one per (pod IP, port), on a loop of their own.

    Each answers any request with ``<name> <path>`` and closes the connection; a path
    ``/status/<code>`` answers with that status. :meth:`stop` makes the address refuse new
    connections, as when a pod's process has gone.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: dict[tuple[str, int], asyncio.Server] = {}
        self.requests: dict[str, int] = {}  # pod name -> requests answered

    def __enter__(self) -> PodServers:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for address in list(self._servers):
            self.stop(*address)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def serve(self, name: str, ip: str, port: int = 8080) -> None:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(
                lambda r, w: self._answer(name, r, w), ip, port, reuse_address=True
            )

        server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self._servers[(ip, port)] = server

    def serve_echo(self, ip: str, port: int) -> None:
        """Echo every byte back until the peer half-closes, then close."""

        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(echo, ip, port, reuse_address=True)

        self._servers[(ip, port)] = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)

    def stop(self, ip: str, port: int = 8080) -> None:
        server = self._servers.pop((ip, port))

        async def close() -> None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    async def _answer(
        self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            status = int(path.rsplit("/", 1)[1]) if path.startswith("/status/") else 200
            body = f"{name} {path}".encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
                "Content-Type: text/plain\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            self.requests[name] = self.requests.get(name, 0) + 1
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()


@contextlib.contextmanager
def pod_servers() -> Iterator[PodServers]:
    with PodServers() as servers:
        yield servers
