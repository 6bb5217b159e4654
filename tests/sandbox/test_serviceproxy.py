"""The Service proxies (kube-proxy's part) and the API server's service proxy, against a real
emulated API server, the EndpointSlice controller, and pods served on loopback addresses."""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from greenlight_sandbox.addresses import POD_NETWORK, SERVICE_NETWORK, AddressPool
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from greenlight_sandbox.endpoints import EndpointSliceController
from greenlight_sandbox.serviceproxy import ServiceProxies
from tests.sandbox.pods import (
    SERVICES,
    PodServers,
    create_pod,
    endpoints_of,
    random_pool,
    release,
    service,
    set_ready,
    terminate,
)

PORT = 8000  # Services' port here: ports below 1024 need privileges
WEB = [{"name": "http", "port": PORT, "targetPort": "http"}]
RESET = "reset"


@pytest.fixture()
def cluster() -> Iterator[EmulatedCluster]:
    with EmulatedCluster(service_addresses=random_pool(SERVICE_NETWORK)) as cluster:
        yield cluster
        assert cluster.server_errors == []


@pytest.fixture()
def slices(cluster: EmulatedCluster) -> Iterator[EndpointSliceController]:
    with EndpointSliceController(cluster).start() as controller:
        yield controller
        assert controller.errors == []


def slices_select(cluster: EmulatedCluster, color: str) -> bool:
    """Whether the Service's EndpointSlices list the pods of ``color`` alone."""
    return set(endpoints_of(cluster, "web")) == {color}


@pytest.fixture()
def ips() -> AddressPool:
    return random_pool(POD_NETWORK)


@pytest.fixture()
def pods() -> Iterator[PodServers]:
    with PodServers() as servers:
        yield servers


@contextlib.contextmanager
def running_proxies(cluster: EmulatedCluster, lag: float) -> Iterator[ServiceProxies]:
    with ServiceProxies(cluster, propagation_lag_seconds=lag).start() as proxies:
        yield proxies


def exchange(address: tuple[str, int], path: str = "/") -> str:
    """One HTTP request on a new connection: the answer's body, or "reset"."""
    try:
        # A reset may come before connect() returns: the proxy accepts and resets at once.
        with socket.create_connection(address, timeout=5) as client:
            client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
    except (ConnectionResetError, BrokenPipeError):
        return RESET
    return answer.partition(b"\r\n\r\n")[2].decode()


def add_pod(
    cluster: EmulatedCluster,
    pods: PodServers,
    ips: AddressPool,
    name: str,
    labels: dict[str, str],
) -> str:
    ip = ips.allocate()
    pods.serve(name, ip, 8080)
    create_pod(cluster, name, labels, ip)
    return ip


def test_a_service_routes_to_its_pod(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    ip = add_pod(cluster, pods, ips, "web-1", {"app": "web"})
    created = cluster.create(service("web", {"app": "web"}, ports=WEB))
    with running_proxies(cluster, lag=0) as proxies:
        address = proxies.address("default", "web", timeout=5)
        assert address == (created["spec"]["clusterIP"], PORT)
        assert proxies.address("default", "web", "http") == address
        assert proxies.address("default", "web", PORT) == address
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(ip, 8080)])
        assert exchange(address, "/hello") == "web-1 /hello"
        counters = proxies.counters("default", "web")
        assert (counters.accepted, counters.routed, counters.reset) == (1, 1, 0)
        wait_for(lambda: proxies.counters("default", "web").active == 0)
        with pytest.raises(LookupError, match="no TCP port 'metrics'"):
            proxies.address("default", "web", "metrics")
        with pytest.raises(LookupError, match="no Service default/api"):
            proxies.address("default", "api")
        assert proxies.errors == []


def test_round_robin_spreads_connections(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    names = ["web-1", "web-2", "web-3"]
    for name in names:
        add_pod(cluster, pods, ips, name, {"app": "web"})
    cluster.create(service("web", {"app": "web"}, ports=WEB))
    with running_proxies(cluster, lag=0) as proxies:
        address = proxies.address("default", "web", timeout=5)
        wait_for(lambda: len(proxies.endpoints("default", "web", "http")) == 3)
        answers = [exchange(address).split()[0] for _ in range(12)]
    assert {name: answers.count(name) for name in names} == dict.fromkeys(names, 4)
    assert answers[:3] == answers[3:6]  # in turn, not at random


def test_new_connections_follow_a_switch_only_after_the_lag(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    lag = 1.5
    blue = add_pod(cluster, pods, ips, "blue", {"app": "web", "color": "blue"})
    green = add_pod(cluster, pods, ips, "green", {"app": "web", "color": "green"})
    cluster.create(service("web", {"app": "web", "color": "blue"}, ports=WEB))
    with running_proxies(cluster, lag=lag) as proxies:
        address = proxies.address("default", "web", timeout=5)
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(blue, 8080)], 5)

        switched = time.monotonic()
        patch = {"spec": {"selector": {"app": "web", "color": "green"}}}
        cluster.patch(*SERVICES, "default", "web", patch)
        wait_for(lambda: set(endpoints_of(cluster, "web")) == {"green"})
        # The EndpointSlice already says green; the proxy still routes as it was a lag ago.
        assert exchange(address, "/just-after") == "blue /just-after"
        assert time.monotonic() - switched < lag  # the request above came within the lag

        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(green, 8080)], lag + 2)
        assert time.monotonic() - switched >= lag  # the slice was written after the patch
        assert exchange(address, "/after-the-lag") == "green /after-the-lag"


def test_each_change_reaches_the_table_in_order_after_its_own_lag(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    lag, gap = 0.6, 0.3
    colors = ["blue", "green", "red"]
    addresses = {c: add_pod(cluster, pods, ips, c, {"app": "web", "color": c}) for c in colors}
    cluster.create(service("web", {"app": "web", "color": "blue"}, ports=WEB))
    with running_proxies(cluster, lag=lag) as proxies:
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(addresses["blue"], 8080)])
        changed: dict[str, float] = {}
        for color in ("green", "red"):
            changed[color] = time.monotonic()
            patch = {"spec": {"selector": {"app": "web", "color": color}}}
            cluster.patch(*SERVICES, "default", "web", patch)
            wait_for(functools.partial(slices_select, cluster, color))
            if color == "green":
                time.sleep(gap)  # the test's input: a second change while the first still lags

        seen: dict[str, float] = {}  # when the table first routed to each colour
        by_ip = {(ip, 8080): color for color, ip in addresses.items()}

        def settled_on_red() -> bool:
            current = [by_ip[e] for e in proxies.endpoints("default", "web", "http")]
            for color in current:
                seen.setdefault(color, time.monotonic())
            return current == ["red"]

        wait_for(settled_on_red, lag + gap + 3, interval=0.002)
    assert list(seen) == ["blue", "green", "red"]  # no change skipped, none reordered
    assert seen["green"] - changed["green"] >= lag
    assert seen["red"] - changed["red"] >= lag
    assert seen["green"] < changed["red"] + lag  # applied at its own time, not with the next


class Load:
    """Requests one after another, each on a new connection, from a thread, until stopped."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.answers: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.answers.append(exchange(self.address).split(" ")[0])

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def wait_for_answers(self, count: int) -> None:
        target = len(self.answers) + count
        wait_for(lambda: len(self.answers) >= target, 10)


@pytest.mark.parametrize("old_pods_outlive_the_lag", [True, False])
def test_a_switch_loses_no_request_only_if_the_old_pods_outlive_the_lag(
    cluster: EmulatedCluster,
    slices: EndpointSliceController,
    pods: PodServers,
    ips: AddressPool,
    old_pods_outlive_the_lag: bool,
) -> None:
    blue = add_pod(cluster, pods, ips, "blue", {"app": "web", "color": "blue"})
    green = add_pod(cluster, pods, ips, "green", {"app": "web", "color": "green"})
    cluster.create(service("web", {"app": "web", "color": "blue"}, ports=WEB))
    with running_proxies(cluster, lag=1.0) as proxies:
        address = proxies.address("default", "web", timeout=5)
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(blue, 8080)])
        with Load(address) as load:
            load.wait_for_answers(20)
            patch = {"spec": {"selector": {"app": "web", "color": "green"}}}
            cluster.patch(*SERVICES, "default", "web", patch)
            # What the operator waits for before scaling the old colour down:
            wait_for(lambda: set(endpoints_of(cluster, "web")) == {"green"})
            if old_pods_outlive_the_lag:  # kept warm until every node routes to green
                wait_for(lambda: proxies.endpoints("default", "web", "http") == [(green, 8080)])
            pods.stop(blue, 8080)  # the old colour's processes are gone
            wait_for(lambda: proxies.endpoints("default", "web", "http") == [(green, 8080)])
            load.wait_for_answers(20)
        counters = proxies.counters("default", "web")
    answers = load.answers
    assert answers[0] == "blue" and answers[-1] == "green"
    assert counters.reset == answers.count(RESET)
    if old_pods_outlive_the_lag:
        assert RESET not in answers
    else:  # the nodes still sent new connections to blue for the rest of the lag
        assert answers.count(RESET) > 0


def test_a_pod_that_has_gone_makes_a_connection_fail(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    ip = add_pod(cluster, pods, ips, "web-1", {"app": "web"})
    cluster.create(service("web", {"app": "web"}, ports=WEB))
    with running_proxies(cluster, lag=0) as proxies:
        address = proxies.address("default", "web", timeout=5)
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(ip, 8080)])
        assert exchange(address) == "web-1 /"
        pods.stop(ip, 8080)  # the process is gone; its endpoint is still listed as ready
        assert exchange(address) == RESET
        counters = proxies.counters("default", "web")
        assert (counters.accepted, counters.routed, counters.reset) == (2, 1, 1)


def test_without_endpoints_a_connection_is_reset(
    cluster: EmulatedCluster, slices: EndpointSliceController
) -> None:
    cluster.create(service("web", {"app": "web"}, ports=WEB))
    with running_proxies(cluster, lag=0) as proxies:
        address = proxies.address("default", "web", timeout=5)
        assert exchange(address) == RESET
        assert proxies.counters("default", "web").reset == 1


def test_terminating_endpoints_serve_only_when_none_is_ready(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    old = add_pod(cluster, pods, ips, "old", {"app": "web"})
    cluster.create(service("web", {"app": "web"}, ports=WEB))
    with running_proxies(cluster, lag=0) as proxies:
        address = proxies.address("default", "web", timeout=5)
        terminate(cluster, "old")
        wait_for(lambda: endpoints_of(cluster, "web").get("old", {}).get("terminating"))
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(old, 8080)])
        assert exchange(address) == "old /"  # serving and terminating: the fallback

        new = add_pod(cluster, pods, ips, "new", {"app": "web"})
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(new, 8080)])
        assert [exchange(address) for _ in range(2)] == ["new /", "new /"]

        set_ready(cluster, "new", False)
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [(old, 8080)])
        set_ready(cluster, "old", False)  # terminating and no longer serving: nothing left
        wait_for(lambda: proxies.endpoints("default", "web", "http") == [])
        assert exchange(address) == RESET
        release(cluster, "old")


def test_a_port_in_use_gives_a_clear_error_and_others_keep_working(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    assert cluster.service_addresses is not None
    taken = (cluster.service_addresses.allocate(), PORT)
    cluster.service_addresses.release(taken[0])  # free for the Service to ask for
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAITs
        squatter.bind(taken)
        squatter.listen()
        busy = service("busy", {"app": "busy"}, ports=WEB)
        busy["spec"]["clusterIP"] = taken[0]
        cluster.create(busy)
        ip = add_pod(cluster, pods, ips, "web-1", {"app": "web"})
        cluster.create(service("web", {"app": "web"}, ports=WEB))
        with running_proxies(cluster, lag=0) as proxies:
            (error,) = proxies.errors
            assert "default/busy" in error and f"{taken[0]}:{PORT}" in error
            assert "in use" in error
            with pytest.raises(LookupError, match="does not listen"):
                proxies.address("default", "busy")
            address = proxies.address("default", "web", timeout=5)
            wait_for(lambda: proxies.endpoints("default", "web", "http") == [(ip, 8080)])
            assert exchange(address) == "web-1 /"


def test_a_cluster_ip_that_is_not_local_is_a_clear_error(kube_cluster: EmulatedCluster) -> None:
    created = kube_cluster.create(service("web", {"app": "web"}, ports=WEB))  # no address pool
    with running_proxies(kube_cluster, lag=0) as proxies:
        (error,) = proxies.errors
    assert f"{created['spec']['clusterIP']}:{PORT} for Service default/web" in error
    assert "service_addresses" in error


def test_listeners_follow_the_service(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    add_pod(cluster, pods, ips, "web-1", {"app": "web"})
    with running_proxies(cluster, lag=0) as proxies:
        created = cluster.create(service("web", {"app": "web"}, ports=WEB))
        address = proxies.address("default", "web", timeout=5)
        ports = [{"name": "http", "port": PORT + 1, "targetPort": 8080}]
        cluster.patch(*SERVICES, "default", "web", {"spec": {"ports": ports}})
        moved = proxies.address("default", "web", PORT + 1, timeout=5)
        assert moved == (created["spec"]["clusterIP"], PORT + 1)
        wait_for(lambda: proxies.endpoints("default", "web", "http"))
        assert exchange(moved) == "web-1 /"
        assert not _listened_on(address)

        cluster.delete(*SERVICES, "default", "web")
        wait_for(lambda: not _listened_on(moved))
        assert proxies.errors == []


def _listened_on(address: tuple[str, int]) -> bool:
    """Whether something listens there. Not by connecting: a connection to a closed port may
    meet one of the port's own connections in TIME_WAIT and end in a reset, not a refusal."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
            probe.listen()
        except OSError:
            return True
    return False


def test_bytes_are_spliced_both_ways_with_half_close(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    ip = ips.allocate()
    pods.serve_echo(ip, 9000)
    create_pod(cluster, "echo", {"app": "echo"}, ip, ports={"echo": 9000})
    ports = [{"name": "echo", "port": PORT, "targetPort": "echo"}]
    cluster.create(service("echo", {"app": "echo"}, ports=ports))
    payload = bytes(range(256)) * 16384  # 4 MiB: more than any buffer in between
    with running_proxies(cluster, lag=0) as proxies:
        address = proxies.address("default", "echo", timeout=5)
        wait_for(lambda: proxies.endpoints("default", "echo", "echo"))
        with socket.create_connection(address, timeout=10) as client:
            received = bytearray()
            client.setblocking(False)
            sent = 0
            while sent < len(payload) or True:
                if sent < len(payload):
                    with contextlib.suppress(BlockingIOError):
                        sent += client.send(payload[sent : sent + 65536])
                    if sent == len(payload):
                        client.shutdown(socket.SHUT_WR)  # the echo ends on our half-close
                with contextlib.suppress(BlockingIOError):
                    chunk = client.recv(65536)
                    if not chunk:
                        break
                    received += chunk
        assert received == payload


def test_stopping_closes_every_listener_and_connection(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    ip = ips.allocate()
    pods.serve_echo(ip, 9000)
    create_pod(cluster, "echo", {"app": "echo"}, ip, ports={"echo": 9000})
    cluster.create(service("echo", {"app": "echo"}, ports=[{"port": PORT, "targetPort": 9000}]))
    proxies = ServiceProxies(cluster, propagation_lag_seconds=0).start()
    try:
        address = proxies.address("default", "echo", timeout=5)
        wait_for(lambda: proxies.endpoints("default", "echo"))
        client = socket.create_connection(address, timeout=5)
        client.sendall(b"ping")
        assert client.recv(4) == b"ping"
        assert proxies.counters("default", "echo").active == 1
    finally:
        proxies.stop()
    with client, contextlib.suppress(ConnectionResetError):
        assert client.recv(4) == b""
    assert not _listened_on(address)


# --- the API server's service proxy ------------------------------------------------------


def _api_get(cluster: EmulatedCluster, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(cluster.url + path, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def test_the_api_server_proxy_answers_from_the_current_ready_endpoints(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    add_pod(cluster, pods, ips, "blue", {"app": "web", "color": "blue"})
    add_pod(cluster, pods, ips, "green", {"app": "web", "color": "green"})
    cluster.create(service("web", {"app": "web", "color": "blue"}, ports=WEB))
    with running_proxies(cluster, lag=30) as proxies:  # the nodes lag far behind
        cluster.set_service_proxy(proxies.api_server_handler)
        base = "/api/v1/namespaces/default/services"
        wait_for(lambda: set(endpoints_of(cluster, "web")) == {"blue"})
        assert _api_get(cluster, f"{base}/web:{PORT}/proxy/readyz?x=1") == (200, "blue /readyz?x=1")
        assert _api_get(cluster, f"{base}/web:http/proxy/") == (200, "blue /")
        assert _api_get(cluster, f"{base}/http:web:{PORT}/proxy/status/503") == (
            503,
            "blue /status/503",
        )

        patch = {"spec": {"selector": {"app": "web", "color": "green"}}}
        cluster.patch(*SERVICES, "default", "web", patch)
        wait_for(lambda: set(endpoints_of(cluster, "web")) == {"green"})
        # No lag here: the API server reads the endpoints as they are now.
        assert _api_get(cluster, f"{base}/web:http/proxy/") == (200, "green /")

        set_ready(cluster, "green", False)
        wait_for(lambda: endpoints_of(cluster, "web").get("green", {}).get("ready") is False)
        status, body = _api_get(cluster, f"{base}/web:http/proxy/")
        assert status == 503
        assert json.loads(body)["message"] == 'no endpoints available for service "web"'


def test_the_api_server_proxy_reports_what_a_real_one_reports(
    cluster: EmulatedCluster, slices: EndpointSliceController, pods: PodServers, ips: AddressPool
) -> None:
    ip = add_pod(cluster, pods, ips, "web-1", {"app": "web"})
    cluster.create(service("web", {"app": "web"}, ports=WEB))
    with running_proxies(cluster, lag=0) as proxies:
        cluster.set_service_proxy(proxies.api_server_handler)
        base = "/api/v1/namespaces/default/services"
        wait_for(lambda: set(endpoints_of(cluster, "web")) == {"web-1"})
        status, body = _api_get(cluster, f"{base}/api:{PORT}/proxy/")
        assert (status, json.loads(body)["message"]) == (404, 'services "api" not found')
        status, body = _api_get(cluster, f"{base}/web:81/proxy/")
        assert status == 503 and "no service port 81" in json.loads(body)["message"]

        pods.stop(ip, 8080)
        status, body = _api_get(cluster, f"{base}/web:{PORT}/proxy/")
        assert status == 503
        message = json.loads(body)["message"]
        assert message.startswith(f"error trying to reach service: dial tcp {ip}:8080")
        assert "refused" in message
