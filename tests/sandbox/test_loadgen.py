"""The load generator against a small asyncio server run by the test: the schedule holds
whatever the server does, each request is a new connection, and every way of failing is
counted and named."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from greenlight_sandbox.emulator import wait_for
from greenlight_sandbox.loadgen import LoadGenerator, LoadRecord


class Server:
    """An HTTP server on loopback whose answer the test chooses, counting connections."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.connections = 0
        self.heads: list[bytes] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    def __enter__(self) -> Server:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        )
        self._server = started.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hello?x=1"

    def __exit__(self, *exc_info: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            mode = self.mode
            if mode == "stall":  # accept, then never answer
                await asyncio.Event().wait()
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            if mode == "reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if mode == "close":
                return
            status = {"ok": 200, "404": 404, "503": 503}.get(mode, 200)
            body = b'{"version": "1.0"}'
            headers = f"X-App-Version: 1.0\r\nX-App-Color: {'green' if mode == '503' else 'blue'}"
            if mode == "no-length":  # close-delimited body
                writer.write(f"HTTP/1.1 200 OK\r\n{headers}\r\n\r\n".encode() + body * 100)
            else:
                writer.write(
                    f"HTTP/1.1 {status} X\r\n{headers}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n".encode()
                    + body
                )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            # Closed here, and waited for, even when cancelled: a socket left to the garbage
            # collector warns in whichever test runs next.
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as running:
        yield running


def _assert_on_schedule(records: list[LoadRecord], load: LoadGenerator) -> None:
    """The records are requests 0..n-1 of the plan t0 + i / rate: none missing, none extra."""
    assert load.t0 is not None
    interval = 1 / load.rate_per_second
    for i, record in enumerate(records):
        assert record.scheduled == pytest.approx(load.t0 + i * interval, abs=1e-6), i


def _run_until(load: LoadGenerator, enough: int) -> tuple[list[LoadRecord], float, float]:
    """Run until `enough` records are in; the records and the clock around the stop."""
    with load:
        wait_for(lambda: len(load.records_so_far()) >= enough, timeout=30)
        before = time.monotonic()
    after = time.monotonic()
    return load.stop(), before, after


def test_the_rate_is_honoured_one_connection_per_request(server: Server) -> None:
    rate = 100.0
    load = LoadGenerator(server.url, rate_per_second=rate)
    records, before, after = _run_until(load, 50)
    assert load.t0 is not None
    # The number sent follows from the schedule and the moment of the stop: everything
    # planned before it (bar a moment of scheduler lag) and nothing planned after.
    assert math.floor((before - load.t0 - 0.25) * rate) <= len(records)
    assert len(records) <= math.floor((after - load.t0) * rate) + 1
    _assert_on_schedule(records, load)
    assert all(r.ok and r.status == 200 and r.error is None for r in records)
    assert {(r.version, r.color) for r in records} == {("1.0", "blue")}
    assert all(r.latency is not None and 0 < r.latency < 2 for r in records)
    # Each request came on its own connection and asked to close it.
    assert server.connections == len(server.heads) == len(records)
    head = server.heads[0].decode()
    assert head.startswith("GET /hello?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n" in head
    assert "Connection: close\r\n" in head


def test_status_codes_and_close_delimited_bodies(server: Server) -> None:
    for mode, status, ok, error, color in [
        ("503", 503, False, "HTTP 503", "green"),
        ("404", 404, True, None, "blue"),
        ("no-length", 200, True, None, "blue"),
    ]:
        server.mode = mode
        records, _, _ = _run_until(LoadGenerator(server.url, rate_per_second=50), 5)
        assert {(r.status, r.ok, r.error, r.color) for r in records} == {
            (status, ok, error, color)
        }, mode
        assert all(r.latency is not None for r in records)


def test_refused_connections_are_failures() -> None:
    # A bound socket that does not listen: connections to its port are refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        load = LoadGenerator(f"http://127.0.0.1:{port}/", rate_per_second=100)
        records, _, _ = _run_until(load, 20)
    _assert_on_schedule(records, load)
    assert {(r.ok, r.status, r.error, r.latency, r.color) for r in records} == {
        (False, None, "connection refused", None, None)
    }


@pytest.mark.parametrize(("mode", "error"), [("reset", "connection reset"), ("close", None)])
def test_dropped_connections_are_failures(server: Server, mode: str, error: str | None) -> None:
    server.mode = mode
    records, _, _ = _run_until(LoadGenerator(server.url, rate_per_second=50), 5)
    assert all(not r.ok and r.status is None and r.latency is None for r in records)
    errors = {r.error for r in records}
    if error is not None:
        assert errors == {error}
    else:
        assert errors == {"connection closed"}


def test_a_stalled_server_does_not_slow_the_schedule(server: Server) -> None:
    server.mode = "stall"
    rate, timeout = 50.0, 0.5
    load = LoadGenerator(server.url, rate_per_second=rate, timeout_seconds=timeout)
    with load:
        # Nothing is answered, yet new connections keep coming at the planned rate: 40
        # arrive while the first ones are still waiting, well within their timeout.
        wait_for(lambda: server.connections >= 40, timeout=30)
        assert load.t0 is not None
        in_time = time.monotonic() - load.t0
        stopping = time.monotonic()
    records = load.stop()
    assert in_time < 40 / rate + 2, "the sender waited for answers"
    # stop() waited for the requests in flight to time out, and no longer than that.
    assert time.monotonic() - stopping < timeout + 5
    assert len(records) == server.connections
    _assert_on_schedule(records, load)
    assert {(r.ok, r.status, r.error, r.latency) for r in records} == {
        (False, None, "timeout", None)
    }


def test_recovery_is_seen_request_by_request(server: Server) -> None:
    server.mode = "503"
    with LoadGenerator(server.url, rate_per_second=100) as load:
        wait_for(lambda: len(load.records_so_far()) >= 10, timeout=30)
        server.mode = "ok"
        wait_for(lambda: load.records_so_far()[-1].ok, timeout=30)
    records = load.stop()
    first_ok = next(i for i, r in enumerate(records) if r.ok)
    assert first_ok >= 10
    assert all(r.error == "HTTP 503" for r in records[:first_ok])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="only http"):
        LoadGenerator("https://example.com/", rate_per_second=1)
    with pytest.raises(ValueError, match="rate_per_second"):
        LoadGenerator("http://127.0.0.1/", rate_per_second=0)
    with pytest.raises(ValueError, match="timeout_seconds"):
        LoadGenerator("http://127.0.0.1/", rate_per_second=1, timeout_seconds=-1)
    unstarted = LoadGenerator("http://127.0.0.1:1/", rate_per_second=1)
    assert unstarted.stop() == []


def test_the_command_prints_a_summary(server: Server) -> None:
    command = ["-m", "greenlight_sandbox.loadgen", server.url, "--rate", "50", "--seconds", "0.5"]
    done = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    sent = int(done.stdout.split()[1].rstrip(","))
    assert sent == server.connections > 0
    assert f"answered by: blue {sent}" in done.stdout


def test_two_hundred_a_second_against_the_sample_app() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "APP_VERSION": "2.0", "GREENLIGHT_COLOR": "green"}
    env["SAMPLE_DRAIN_SECONDS"] = "0"  # stopped at the end: no need to drain
    command = ["-m", "greenlight_sample", "--host", "127.0.0.1", "--port", str(port)]
    app = subprocess.Popen([sys.executable, *command], env=env, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"

        def answering() -> bool:
            assert app.poll() is None, "the sample app exited"
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(answering, timeout=30)
        load = LoadGenerator(url, rate_per_second=200)
        records, _, _ = _run_until(load, 400)
    finally:
        app.terminate()
        app.wait(timeout=30)
    _assert_on_schedule(records, load)
    failures = [r for r in records if not r.ok]
    assert failures == []
    assert {(r.version, r.color) for r in records} == {("2.0", "green")}
