"""Service proxies: what kube-proxy does on a node, and what the API server's service proxy does.

:class:`ServiceProxies` watches Services and EndpointSlices in every namespace. Every Service
with a cluster IP gets a TCP listener on ``(clusterIP, port)`` for each of its TCP ports
(cluster IPs are loopback addresses from the emulator's pool, see
:mod:`greenlight_sandbox.emulator.clusterips`); listeners follow the Service as it is created,
changed and deleted. Each new connection is routed, like kube-proxy routes it, to one endpoint
(round-robin) of the routing table as it was ``propagation_lag_seconds`` ago:

- every EndpointSlice change reaches the table only after the lag, in order, each at its own
  time plus the lag (kube-proxy programs its rules some time after the API server changed);
- only ready endpoints take traffic; when a port has none, its serving endpoints that are
  terminating do (kube-proxy's rule for terminating endpoints);
- then bytes are spliced both ways until either side closes (half-closes are passed on, and a
  reset from the pod is passed on as a reset).

A connection that cannot be routed (no endpoint, or the chosen pod's address refuses because
its process has gone) is reset, as a node fails it; this is how a badly done switch loses
requests. Established connections outlive routing changes, as conntrack keeps them.

:class:`ApiServerServiceProxy` answers the emulated API server's
``/api/v1/namespaces/{ns}/services/{name}[:port]/proxy/...`` from the Service's current ready
endpoints (no lag: the real API server reads endpoints directly), by a GET to the pod.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import errno
import functools
import http.client
import itertools
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from greenlight_sandbox.emulator.errors import status_body
from greenlight_sandbox.endpoints import SERVICE_NAME_LABEL, SLICES
from greenlight_sandbox.informer import ControllerThread, Key, key_of

if TYPE_CHECKING:
    from greenlight_sandbox.emulator.cluster import EmulatedCluster

logger = logging.getLogger(__name__)
Obj = dict[str, Any]
Address = tuple[str, int]
T = TypeVar("T")
HEADLESS = "None"
_LISTEN_BACKLOG = 1024
_ACCEPTS_PER_WAKEUP = 64
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 seconds: close() sends a RST
_HINTS = {
    errno.EACCES: " (ports below net.ipv4.ip_unprivileged_port_start need privileges)",
    errno.EADDRNOTAVAIL: (
        " (not a local address: give the cluster service_addresses=AddressPool(SERVICE_NETWORK))"
    ),
}


@dataclasses.dataclass
class ProxyCounters:
    """What one Service's proxy did (over all its ports)."""

    accepted: int = 0  # connections accepted
    routed: int = 0  # connections spliced to an endpoint
    reset: int = 0  # connections reset: no endpoint, the endpoint refused, or it reset
    active: int = 0  # connections open now


def _spec(obj: Obj | None) -> Obj:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _tcp_ports(service: Obj) -> list[Obj]:
    return [
        port
        for port in _spec(service).get("ports") or []
        if port.get("protocol", "TCP") == "TCP" and isinstance(port.get("port"), int)
    ]


def _cluster_ip(service: Obj) -> str | None:
    address = _spec(service).get("clusterIP")
    return None if not address or address == HEADLESS else str(address)


def _service_of(slice_obj: Obj | None) -> Key | None:
    if slice_obj is None:
        return None
    name = ((slice_obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
    return None if not name else (key_of(slice_obj)[0], str(name))


def pick_endpoints(slices: list[Obj], port_name: str, *, with_fallback: bool) -> list[Address]:
    """The endpoints of a Service port in its slices: ready ones, or (with ``with_fallback``,
    as kube-proxy does) the serving terminating ones when none is ready. Sorted."""
    ready: list[Address] = []
    terminating: list[Address] = []
    for item in slices:
        numbers = [
            p.get("port")
            for p in item.get("ports") or []
            if (p.get("name") or "") == port_name and p.get("protocol", "TCP") == "TCP"
        ]
        if not numbers or not isinstance(numbers[0], int):
            continue  # these pods do not have this port
        for endpoint in item.get("endpoints") or []:
            addresses = endpoint.get("addresses") or []
            if not addresses:
                continue
            conditions = endpoint.get("conditions") or {}
            is_ready = conditions.get("ready") is not False  # absent means ready
            serving = conditions.get("serving", is_ready) is not False
            if is_ready:
                ready.append((str(addresses[0]), numbers[0]))
            elif serving and conditions.get("terminating"):
                terminating.append((str(addresses[0]), numbers[0]))
    return sorted(ready) if ready or not with_fallback else sorted(terminating)


# --- connections -------------------------------------------------------------------------


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close with a RST, as a node answers a connection it cannot deliver."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()


class _Side(asyncio.Protocol):
    """One side of a spliced connection: what it receives is written to the other side."""

    def __init__(self, connection: _Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.got_eof = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.lost:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.got_eof = True
        peer = self.peer
        if peer is None or peer.transport is None or peer.lost:
            return False
        if peer.got_eof:  # both directions are done
            peer.transport.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()  # pass the half-close on; keep the other way open
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.connection.side_lost(self, exc)

    # Flow control: a slow reader on one side slows the writer on the other.
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.lost:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.lost:
            self.peer.transport.resume_reading()


class _Connection:
    """A client connection accepted on a Service's address, and its upstream once routed."""

    def __init__(self, proxies: ServiceProxies, listener: _Listener) -> None:
        self.proxies = proxies
        self.listener = listener
        self.counters = proxies._counters_of(listener.service)
        self.client = _ClientSide(self)
        self.upstream: _Side | None = None
        self.closed = False

    def start(self) -> None:
        """The client is connected: route it (its reading waits until the upstream is up)."""
        assert self.client.transport is not None
        self.client.transport.pause_reading()
        self.counters.accepted += 1
        self.counters.active += 1
        self.proxies._connections.add(self)
        endpoint = self.proxies._route(self.listener.service, self.listener.port_name)
        if endpoint is None:
            self.fail()
            return
        task = asyncio.get_running_loop().create_task(self._connect(endpoint))
        self.proxies._connecting.add(task)
        task.add_done_callback(self.proxies._connecting.discard)

    async def _connect(self, endpoint: Address) -> None:
        loop = asyncio.get_running_loop()
        # The upstream writes to the client from its first byte (the pod may answer, or
        # close, before this coroutine resumes); the client reads only once it is linked.
        upstream = self.upstream = _Side(self)
        upstream.peer = self.client
        try:
            async with asyncio.timeout(self.proxies.connect_timeout_seconds):  # no extra task
                await loop.create_connection(lambda: upstream, *endpoint)
        except (OSError, TimeoutError):
            self.fail()
            return
        self.counters.routed += 1
        client = self.client.transport
        if client is None or self.client.lost:  # the client gave up meanwhile
            if upstream.transport is not None and not upstream.lost:
                upstream.transport.close()
            return
        self.client.peer = upstream
        client.resume_reading()

    def fail(self) -> None:
        self.counters.reset += 1
        if self.client.transport is not None and not self.client.lost:
            _reset(self.client.transport)

    def side_lost(self, side: _Side, exc: Exception | None) -> None:
        other = self.upstream if side is self.client else self.client
        if other is not None and other.transport is not None and not other.lost:
            if exc is not None and side is not self.client:
                _reset(other.transport)  # the pod reset: the client sees a reset too
                self.counters.reset += 1
            elif exc is not None:
                other.transport.abort()
            else:
                other.transport.close()  # after what is still buffered for it
        if not _is_open(self.client) and not _is_open(self.upstream):
            self.finish()

    def finish(self) -> None:
        if not self.closed:
            self.closed = True
            self.counters.active -= 1
            self.proxies._connections.discard(self)

    def abort(self) -> None:
        for side in (self.client, self.upstream):
            if side is not None and side.transport is not None and not side.lost:
                side.transport.abort()


def _returning(protocol: _Side) -> Callable[[], _Side]:
    return lambda: protocol


def _is_open(side: _Side | None) -> bool:
    """Connected and not yet lost (a transport closing still counts until it is lost)."""
    return side is not None and side.transport is not None and not side.lost


class _ClientSide(_Side):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.connection.start()


@dataclasses.dataclass(eq=False)
class _Listener:
    service: Key
    address: Address
    port_name: str
    sock: socket.socket


# --- the proxies -------------------------------------------------------------------------


class ServiceProxies(ControllerThread):
    """Listeners on every Service's cluster IP, routing like kube-proxy (see the module doc).

    ``ServiceProxies(cluster, propagation_lag_seconds=1.0).start()``; ``stop()`` (or ``with``)
    closes every listener and connection. ``address(ns, name, port)`` is where to connect,
    ``counters(ns, name)`` what happened, ``endpoints(ns, name, port_name)`` where new
    connections go now, ``errors`` what could not be done (a port in use).
    ``api_server_handler`` is for ``cluster.set_service_proxy``.
    """

    name = "service-proxies"

    def __init__(
        self,
        cluster: EmulatedCluster,
        *,
        propagation_lag_seconds: float = 1.0,
        connect_timeout_seconds: float = 3.0,
    ) -> None:
        super().__init__(cluster)
        self.propagation_lag_seconds = propagation_lag_seconds
        self.connect_timeout_seconds = connect_timeout_seconds
        self.api_server_handler = ApiServerServiceProxy(cluster)
        self._services = self.informer("/api/v1/services")
        self._slices = self.informer("/apis/discovery.k8s.io/v1/endpointslices")
        self._services.on_change(self._on_service)
        self._slices.on_change(self._on_slice)
        self._listeners: dict[Address, _Listener] = {}
        self._counters: dict[Key, ProxyCounters] = {}
        self._connections: set[_Connection] = set()
        self._connecting: set[asyncio.Task[Any]] = set()
        # The routing table: slices as routing sees them, lagging the watch.
        self._changes: collections.deque[tuple[float, str, Obj]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        self._lagging = False  # changes seen in the initial sync apply at once
        self._routed_slices: dict[Key, dict[str, Obj]] = {}  # service -> slice name -> slice
        self._slice_owners: dict[Key, Key] = {}  # slice -> its service, as routed
        self._routes: dict[tuple[Key, str], list[Address]] = {}
        self._turns: dict[tuple[Key, str], int] = {}

    # --- public, from any thread -----------------------------------------------------------

    def address(
        self,
        namespace: str,
        name: str,
        port: int | str | None = None,
        *,
        timeout: float = 0.0,
    ) -> Address:
        """``(clusterIP, port)`` where the Service's proxy listens for ``port`` (its number or
        name; may be left out for a Service with one port).

        Raises ``LookupError`` when the Service is unknown, has no such port or no address, or
        its listener is not up; with ``timeout``, waits that long for it first.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._on_loop(lambda: self._address(namespace, name, port))
            except LookupError:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    def counters(self, namespace: str, name: str) -> ProxyCounters:
        """A copy of the Service's counters (zeros for a Service never connected to)."""
        key = (namespace, name)
        return self._on_loop(lambda: dataclasses.replace(self._counters_of(key)))

    def endpoints(self, namespace: str, name: str, port_name: str = "") -> list[Address]:
        """Where new connections to a Service port go now (the lagging routing table)."""
        return self._on_loop(lambda: list(self._endpoints((namespace, name), port_name)))

    # --- lifecycle hooks -------------------------------------------------------------------

    async def started(self) -> None:
        self._lagging = self.propagation_lag_seconds > 0

    async def stopping(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for listener in list(self._listeners.values()):
            self._close(listener)
        for task in list(self._connecting):
            task.cancel()
        for connection in list(self._connections):
            connection.abort()
        await asyncio.sleep(0)  # let the transports finish closing

    # --- listeners -------------------------------------------------------------------------

    def _on_service(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        key = key_of(obj)
        wanted: dict[Address, str] = {}
        address = _cluster_ip(obj)
        if event_type != "DELETED" and address is not None:
            wanted = {(address, port["port"]): port.get("name") or "" for port in _tcp_ports(obj)}
        for stale in [item for item in self._listeners.values() if item.service == key]:
            if stale.address not in wanted:
                self._close(stale)
        for where, port_name in wanted.items():
            listener = self._listeners.get(where)
            if listener is None:
                self._open(key, where, port_name)
            elif listener.service == key:
                listener.port_name = port_name
            else:
                owner = "/".join(listener.service)
                self._error(
                    f"cannot listen on {where[0]}:{where[1]} for Service {key[0]}/{key[1]}: "
                    f"the proxy of Service {owner} listens there"
                )

    def _open(self, service: Key, where: Address, port_name: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(where)
            sock.listen(_LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            hint = _HINTS.get(exc.errno or 0, "")
            self._error(
                f"cannot listen on {where[0]}:{where[1]} for Service {service[0]}/{service[1]} "
                f"(port {port_name or where[1]}): {exc.strerror or exc}{hint}"
            )
            return
        listener = _Listener(service, where, port_name, sock)
        self._listeners[where] = listener
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, listener)

    def _accept(self, listener: _Listener) -> None:
        """Accept what is waiting. Not asyncio.Server: in Python 3.11 a server closed between
        an accept and its transport's creation drops the accepted socket without closing it,
        and that client would hang instead of being refused or reset."""
        loop = asyncio.get_running_loop()
        for _ in range(_ACCEPTS_PER_WAKEUP):
            try:
                conn, _ = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, say: try again on the next wakeup
                logger.warning("Accepting on %s:%s failed: %s", *listener.address, exc)
                return
            conn.setblocking(False)
            client = _Connection(self, listener).client
            task = loop.create_task(loop.connect_accepted_socket(_returning(client), conn))
            self._connecting.add(task)
            task.add_done_callback(functools.partial(self._adopted, conn))

    def _adopted(self, conn: socket.socket, task: asyncio.Task[Any]) -> None:
        self._connecting.discard(task)
        if task.cancelled() or task.exception() is not None:
            conn.close()  # cancelled, even before it began: the socket is still ours

    def _close(self, listener: _Listener) -> None:
        if self._listeners.get(listener.address) is listener:
            del self._listeners[listener.address]
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(listener.sock.fileno())
        listener.sock.close()

    def _error(self, message: str) -> None:
        logger.error("%s", message)
        self.errors.append(message)

    # --- the routing table -----------------------------------------------------------------

    def _on_slice(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        if not self._lagging:
            self._apply(event_type, obj)
            return
        loop = asyncio.get_running_loop()
        self._changes.append((loop.time() + self.propagation_lag_seconds, event_type, obj))
        if self._timer is None:
            self._timer = loop.call_at(self._changes[0][0], self._apply_due)

    def _apply_due(self) -> None:
        """Apply the changes whose time has come, in the order they were seen."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._changes and self._changes[0][0] <= now:
            _, event_type, obj = self._changes.popleft()
            self._apply(event_type, obj)
        if self._changes:
            self._timer = loop.call_at(self._changes[0][0], self._apply_due)

    def _apply(self, event_type: str, obj: Obj) -> None:
        slice_key = key_of(obj)
        before = self._slice_owners.pop(slice_key, None)  # its label may have changed
        if before is not None:
            self._routed_slices.get(before, {}).pop(slice_key[1], None)
            self._forget_routes(before)
        service = _service_of(obj)
        if event_type != "DELETED" and service is not None:
            self._routed_slices.setdefault(service, {})[slice_key[1]] = obj
            self._slice_owners[slice_key] = service
            self._forget_routes(service)

    def _forget_routes(self, service: Key) -> None:
        for route in [route for route in self._routes if route[0] == service]:
            del self._routes[route]

    def _endpoints(self, service: Key, port_name: str) -> list[Address]:
        route = (service, port_name)
        endpoints = self._routes.get(route)
        if endpoints is None:
            slices = list(self._routed_slices.get(service, {}).values())
            endpoints = pick_endpoints(slices, port_name, with_fallback=True)
            self._routes[route] = endpoints
        return endpoints

    def _route(self, service: Key, port_name: str) -> Address | None:
        endpoints = self._endpoints(service, port_name)
        if not endpoints:
            return None
        turn = self._turns.get((service, port_name), 0)
        self._turns[(service, port_name)] = turn + 1
        return endpoints[turn % len(endpoints)]

    def _counters_of(self, service: Key) -> ProxyCounters:
        counters = self._counters.get(service)
        if counters is None:
            counters = self._counters[service] = ProxyCounters()
        return counters

    # --- lookups ---------------------------------------------------------------------------

    def _address(self, namespace: str, name: str, port: int | str | None) -> Address:
        service = self._services.cache.get((namespace, name))
        if service is None:
            raise LookupError(f"no Service {namespace}/{name}")
        address = _cluster_ip(service)
        if address is None:
            raise LookupError(f"the Service {namespace}/{name} has no cluster IP")
        ports = _tcp_ports(service)
        if port is None and len(ports) == 1:
            chosen = ports
        else:
            chosen = [p for p in ports if port in (p["port"], p.get("name"))]
        if not chosen:
            raise LookupError(f"the Service {namespace}/{name} has no TCP port {port!r}")
        where = (address, int(chosen[0]["port"]))
        listener = self._listeners.get(where)
        if listener is None or listener.service != (namespace, name):
            raise LookupError(f"the proxy of {namespace}/{name} does not listen on {where} (yet)")
        return where

    def _on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the proxies' loop (where their state lives) and return its result."""
        if not self.running:
            raise RuntimeError(f"The {self.name} are not running.")
        loop = self.loop
        if threading.current_thread() is self._thread:
            return fn()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)


# --- the API server's service proxy ------------------------------------------------------


def _status(code: int, message: str) -> tuple[int, str]:
    return code, json.dumps(status_body(code, message))


class ApiServerServiceProxy:
    """A handler for ``EmulatedCluster.set_service_proxy``: the API server's service proxy.

    The port part is resolved against the Service's ports as kube-apiserver does: a number
    names the Service port with that number, anything else is a port name (none: the unnamed
    port). The request goes to one of the port's ready endpoints (round-robin), read from the
    API at that moment, as ``GET http://<podIP>:<targetPort><path>``; the pod's status and
    body are the answer. No ready endpoint: None (the emulator's 503 ``no endpoints available
    for service``); the pod unreachable: 503 with the error, as kube-apiserver answers.
    """

    def __init__(self, cluster: EmulatedCluster, *, timeout_seconds: float = 5.0) -> None:
        self.cluster = cluster
        self.timeout_seconds = timeout_seconds
        self._turns = itertools.count()

    def __call__(
        self, namespace: str, service: str, port: str | None, path: str
    ) -> tuple[int, str] | None:
        obj = self.cluster.get("v1", "services", namespace, service)
        if obj is None:
            return _status(404, f'services "{service}" not found')
        port_name = port or ""
        if port_name.isdigit():
            numbered = [p for p in _spec(obj).get("ports") or [] if p.get("port") == int(port_name)]
            if not numbered:
                return _status(503, f'no service port {port_name} found for service "{service}"')
            port_name = numbered[0].get("name") or ""
        selector = f"{SERVICE_NAME_LABEL}={service}"
        slices = self.cluster.list(*SLICES, namespace, label_selector=selector)
        endpoints = pick_endpoints(slices, port_name, with_fallback=False)
        if not endpoints:
            return None
        host, target_port = endpoints[next(self._turns) % len(endpoints)]
        connection = http.client.HTTPConnection(host, target_port, timeout=self.timeout_seconds)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else repr(exc)
            return _status(
                503, f"error trying to reach service: dial tcp {host}:{target_port}: {reason}"
            )
        finally:
            connection.close()
