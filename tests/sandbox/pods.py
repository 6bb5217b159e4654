"""Hand-made pods for the network tests: Pod objects written as a kubelet would, and tiny HTTP
servers on their loopback addresses standing in for the pods' processes."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import random
import socket
import threading
from collections.abc import Callable, Coroutine
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
    """A pool on a random /27 of ``network`` (past its first /24): test runs in parallel on
    one machine (or a sandbox beside them) rarely meet on the same addresses."""
    subnets = list(ipaddress.IPv4Network(network).subnets(new_prefix=27))[8:]
    return AddressPool(str(random.SystemRandom().choice(subnets)))


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


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


class PodServers:
    """Tiny HTTP servers, one per (pod IP, port), on a loop of their own.

    Each answers any request with ``<name> <path>`` and closes the connection; a path
    ``/status/<code>`` answers with that status. :meth:`stop` makes the address refuse new
    connections (what was accepted is still answered), as when a pod's process has gone.

    Not asyncio.Server: in Python 3.11 one closed between an accept and the creation of its
    transport drops the accepted socket unclosed, and its client hangs.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._listeners: dict[tuple[str, int], socket.socket] = {}
        self._answering: set[asyncio.Task[None]] = set()
        self.requests: dict[str, int] = {}  # pod name -> requests answered

    def __enter__(self) -> PodServers:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for address in list(self._listeners):
            self.stop(*address)

        async def finish() -> None:
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(finish(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def serve(self, name: str, ip: str, port: int = 8080) -> None:
        self._listen(ip, port, lambda r, w: self._answer(name, r, w))

    def serve_echo(self, ip: str, port: int) -> None:
        """Echo every byte back until the peer half-closes, then close."""

        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()

        self._listen(ip, port, echo)

    def _listen(self, ip: str, port: int, handler: Handler) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(128)
        sock.setblocking(False)
        self._on_loop(lambda: self._loop.add_reader(sock.fileno(), self._accept, sock, handler))
        self._listeners[(ip, port)] = sock

    def _accept(self, sock: socket.socket, handler: Handler) -> None:
        # Accepted and handed to a task in one step: nothing can drop the socket in between.
        while True:
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._open(conn, handler))
            self._answering.add(task)
            task.add_done_callback(functools.partial(self._answered, conn))

    async def _open(self, conn: socket.socket, handler: Handler) -> None:
        reader, writer = await asyncio.open_connection(sock=conn)
        await handler(reader, writer)

    def _answered(self, conn: socket.socket, task: asyncio.Task[None]) -> None:
        self._answering.discard(task)
        if task.cancelled() or task.exception() is not None:
            conn.close()

    def stop(self, ip: str, port: int = 8080) -> None:
        sock = self._listeners.pop((ip, port))

        def close() -> None:
            self._loop.remove_reader(sock.fileno())
            sock.close()

        self._on_loop(close)

    def _on_loop(self, fn: Callable[[], object]) -> None:
        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

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
