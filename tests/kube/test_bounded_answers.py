"""A workload's huge answer costs a probe only its first bytes, in both transports: the rest
is never read (an application must not be able to exhaust the operator's memory)."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from greenlight.kube.transports import ApiServerProxyTransport, DirectTransport

BODY_BYTES = 64 * 1024 * 1024
CHUNK = b"x" * 65536
# Loopback socket buffers hold a few MiB; a client that reads the whole body takes all 64.
AT_MOST_SENT = 16 * 1024 * 1024


class HugeAnswer(http.server.BaseHTTPRequestHandler):
    """Answers any GET with 64 MiB, counting what the client let it send."""

    sent: list[int] = []
    done = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(BODY_BYTES))
        self.end_headers()
        sent = 0
        try:
            while sent < BODY_BYTES:
                self.wfile.write(CHUNK)
                sent += len(CHUNK)
        except OSError:
            pass  # the client hung up, as it should
        finally:
            HugeAnswer.sent.append(sent)
            HugeAnswer.done.set()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    HugeAnswer.sent = []
    HugeAnswer.done.clear()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HugeAnswer)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def sent_by(server: http.server.ThreadingHTTPServer) -> int:
    assert HugeAnswer.done.wait(timeout=20), "the server never finished its answer"
    return HugeAnswer.sent[0]


def test_the_api_server_proxy_transport_reads_a_bounded_prefix(
    server: http.server.ThreadingHTTPServer,
) -> None:
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    api_client: Any = client.ApiClient(configuration)
    try:
        status, body = asyncio.run(
            ApiServerProxyTransport(api_client).get(
                namespace="shop", service="web", port=80, path="/huge", timeout_seconds=10
            )
        )
    finally:
        api_client.close()
    assert (status, body) == (200, "x" * 200)
    assert sent_by(server) < AT_MOST_SENT


def test_the_direct_transport_reads_a_bounded_prefix(
    server: http.server.ThreadingHTTPServer,
) -> None:
    async def go() -> tuple[int, str]:
        transport = DirectTransport(hostname=lambda namespace, service: "127.0.0.1")
        try:
            return await transport.get(
                namespace="shop",
                service="web",
                port=server.server_address[1],
                path="/huge",
                timeout_seconds=10,
            )
        finally:
            await transport.aclose()

    assert asyncio.run(go()) == (200, "x" * 200)
    assert sent_by(server) < AT_MOST_SENT
