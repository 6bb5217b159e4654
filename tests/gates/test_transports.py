"""DirectTransport against a real HTTP server on loopback: status, body, timeout, refusal."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from greenlight.gates.base import ProbeTarget
from greenlight.gates.http import HttpGate
from greenlight.kube.transports import DirectTransport
from greenlight.models import HttpProbeSpec


class Handler(http.server.BaseHTTPRequestHandler):
    release = threading.Event()  # set at teardown: frees requests held by /hang

    def do_GET(self) -> None:
        if self.path == "/hang":
            self.release.wait(timeout=10)
            return
        status = 503 if self.path.startswith("/sick") else 200
        body = f"{self.headers['Host']} {self.path} {'x' * 1000}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    Handler.release.clear()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    Handler.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def loopback(namespace: str, service: str) -> str:
    return "127.0.0.1"


def get(port: int, path: str, *, timeout: float = 2.0) -> tuple[int, str]:
    async def go() -> tuple[int, str]:
        transport = DirectTransport(hostname=loopback)
        try:
            return await transport.get(
                namespace="shop", service="web", port=port, path=path, timeout_seconds=timeout
            )
        finally:
            await transport.aclose()

    return asyncio.run(go())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_status_and_the_start_of_the_body_come_back(
    server: http.server.ThreadingHTTPServer,
) -> None:
    status, body = get(server.server_port, "/readyz?full=1")
    assert status == 200
    assert body.startswith(f"127.0.0.1:{server.server_port} /readyz?full=1 ")
    assert len(body) == 200  # only the first bytes are kept


def test_an_error_status_is_an_answer_not_an_exception(
    server: http.server.ThreadingHTTPServer,
) -> None:
    status, _ = get(server.server_port, "/sick")
    assert status == 503


def test_no_answer_within_the_timeout_raises_timeout_error(
    server: http.server.ThreadingHTTPServer,
) -> None:
    with pytest.raises(TimeoutError, match=r"timed out after 0\.2s"):
        get(server.server_port, "/hang", timeout=0.2)


def test_a_closed_port_raises_connection_refused() -> None:
    with pytest.raises(ConnectionRefusedError):
        get(free_port(), "/readyz")


def test_the_default_url_uses_service_dns() -> None:
    transport = DirectTransport(cluster_domain="cluster.local")
    url = transport.url(namespace="shop", service="web-preview", port=8080, path="/readyz")
    assert url == "http://web-preview.shop.svc.cluster.local:8080/readyz"


def test_one_client_serves_many_probes_through_the_gate(
    server: http.server.ThreadingHTTPServer,
) -> None:
    async def go() -> list[str]:
        transport = DirectTransport(hostname=loopback)
        gate = HttpGate(HttpProbeSpec(path="/readyz"), transport)
        sick = HttpGate(HttpProbeSpec(path="/sick"), transport)
        target = ProbeTarget(namespace="shop", service="web", port=server.server_port)
        try:
            outcomes = await asyncio.gather(
                *(gate.probe(target) for _ in range(5)), sick.probe(target)
            )
        finally:
            await transport.aclose()
        return [outcome.message for outcome in outcomes]

    messages = asyncio.run(go())
    assert messages[:5] == ["GET /readyz -> 200"] * 5
    assert messages[5].startswith("GET /sick -> 503 (expected 200): 127.0.0.1")
