"""The load generator: an open loop of HTTP GETs at a fixed rate, one new connection each.

Request i is planned for ``t0 + i / rate`` and sent then, whether or not the earlier ones have
answered: a server that slows down or stalls does not slow the load down (a closed loop would,
and would hide exactly the failures a release must not cause). Each request opens its own TCP
connection and asks for ``Connection: close``, so that it is routed afresh, as a new client
would be, by the per-connection Service proxies.

The HTTP is a minimal HTTP/1.1 GET on asyncio streams in a thread with its own event loop:
cheap enough for a few hundred requests a second on a small shared machine, and measuring
what a client sees (refused and reset connections, timeouts) rather than a library's retries.

    with LoadGenerator("http://127.0.0.5:80/", rate_per_second=200) as load:
        ...  # release something
    records = load.stop()

``python -m greenlight_sandbox.loadgen URL --rate R --seconds S`` prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
import sys
import threading
import time
import types
import urllib.parse
from collections.abc import Sequence

# A status line and headers longer than this are not an answer from the sample app or a proxy.
_MAX_HEAD_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class LoadRecord:
    """One request: when it was planned and what came of it."""

    scheduled: float  # time.monotonic() of its planned send
    latency: float | None  # seconds from opening the connection to the end of the answer
    status: int | None  # None: no answer (refused, reset, timeout)
    ok: bool  # answered below 500
    error: str | None  # "connection refused", "connection reset", "timeout", "HTTP 503"...
    version: str | None  # X-App-Version of the answer
    color: str | None  # X-App-Color of the answer


class _BadAnswer(Exception):
    """The peer answered something that is not an HTTP/1.x response."""


@dataclasses.dataclass(frozen=True)
class _Target:
    host: str  # as connected to: an address literal when the URL named a host
    port: int
    request: bytes


def _target(url: str) -> _Target:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http://host[:port][/path] URLs are supported, not {url!r}")
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    host_header = parts.netloc.rsplit("@", 1)[-1]
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host_header}\r\n"
        "User-Agent: greenlight-loadgen\r\n"
        "Accept: */*\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode("ascii")
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Resolved once: a name lookup per request would cost a thread hop each, and the
        # addresses of a sandbox or test server do not move during a run.
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4]
        host = str(address[0])
    return _Target(host=host, port=port, request=request)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "connection reset"
    if isinstance(error, asyncio.IncompleteReadError):
        return "connection closed" if not error.partial else "connection closed mid-answer"
    if isinstance(error, _BadAnswer):
        return f"bad answer: {error}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return f"{type(error).__name__}: {error}"


async def _exchange(target: _Target) -> tuple[int, dict[str, str]]:
    """One GET on a new connection: the status and headers, the body read to its end."""
    reader, writer = await asyncio.open_connection(target.host, target.port, limit=_MAX_HEAD_BYTES)
    finished = False
    try:
        writer.write(target.request)
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as error:
            raise _BadAnswer("headers too long") from error
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        protocol, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not protocol.startswith("HTTP/1.") or not code.isdigit():
            raise _BadAnswer(repr(status_line[:40]))
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length")
        if length is not None and length.isdigit():
            await reader.readexactly(int(length))
        else:  # chunked or close-delimited: the server closes when done (we asked it to)
            while await reader.read(65536):
                pass
        finished = True
        return int(code), headers
    finally:
        if finished:
            writer.close()
        else:  # timed out or broken: drop the connection at once, unsent bytes and all
            writer.transport.abort()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class LoadGenerator:
    """Open-loop load at ``rate_per_second`` against ``url`` until ``stop()``."""

    def __init__(self, url: str, *, rate_per_second: float, timeout_seconds: float = 2.0) -> None:
        if not rate_per_second > 0:
            raise ValueError(f"rate_per_second must be positive, not {rate_per_second}")
        if not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, not {timeout_seconds}")
        self.url = url
        self.rate_per_second = float(rate_per_second)
        self.timeout_seconds = float(timeout_seconds)
        self._target = _target(url)
        self._lock = threading.Lock()
        self._records: list[LoadRecord] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._stopped = False
        self.t0: float | None = None  # time.monotonic() of the first planned send
        self.max_lag_seconds = 0.0  # the latest any request was sent after its planned time

    # -- the caller's thread ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a LoadGenerator starts once")
        self._thread = threading.Thread(target=self._run, name="loadgen", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._failure is not None:
            raise RuntimeError("the load generator did not start") from self._failure

    def stop(self) -> list[LoadRecord]:
        """Stop sending; wait for the requests in flight (each up to its timeout); all records,
        in planned order."""
        thread = self._thread
        if thread is not None and not self._stopped:
            self._stopped = True
            loop, stopping = self._loop, self._stopping
            if loop is not None and stopping is not None:
                with contextlib.suppress(RuntimeError):  # the loop already ended
                    loop.call_soon_threadsafe(stopping.set)
            thread.join()
            if self._failure is not None:
                raise RuntimeError("the load generator failed") from self._failure
        return self.records_so_far()

    def records_so_far(self) -> list[LoadRecord]:
        """The requests finished so far (answered, failed or timed out), in planned order."""
        with self._lock:
            records = list(self._records)
        records.sort(key=lambda record: record.scheduled)
        return records

    def __enter__(self) -> LoadGenerator:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.stop()

    # -- the generator's thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the caller by start() or stop()
            self._failure = error
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = stopping = asyncio.Event()
        in_flight: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.rate_per_second
        self.t0 = t0 = time.monotonic()
        self._started.set()
        sent = 0
        while not stopping.is_set():
            now = time.monotonic()
            # Every request whose time has come goes now, however late the loop woke up: the
            # schedule is the plan, never the pace of the answers.
            while t0 + sent * interval <= now:
                scheduled = t0 + sent * interval
                self.max_lag_seconds = max(self.max_lag_seconds, now - scheduled)
                task = asyncio.create_task(self._one(scheduled))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                sent += 1
            wait = t0 + sent * interval - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=wait)
        if in_flight:
            await asyncio.wait(in_flight)

    async def _one(self, scheduled: float) -> None:
        started = time.monotonic()
        status: int | None = None
        headers: dict[str, str] = {}
        error: str | None = None
        latency: float | None = None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                status, headers = await _exchange(self._target)
            latency = time.monotonic() - started
        except Exception as failure:
            error = _describe(failure)
        if status is not None and status >= 500:
            error = f"HTTP {status}"
        record = LoadRecord(
            scheduled=scheduled,
            latency=latency,
            status=status,
            ok=error is None,
            error=error,
            version=headers.get("x-app-version"),
            color=headers.get("x-app-color"),
        )
        with self._lock:
            self._records.append(record)


# -- the command ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    # The summary comes from the report module; imported here, it costs the library nothing.
    from greenlight_sandbox import report

    parser = argparse.ArgumentParser(
        prog="python -m greenlight_sandbox.loadgen",
        description="Open-loop HTTP load (one new connection per request); prints a summary.",
    )
    parser.add_argument("url", help="http://host[:port][/path]")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    args = parser.parse_args(argv)
    try:
        load = LoadGenerator(args.url, rate_per_second=args.rate, timeout_seconds=args.timeout)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    with load:
        time.sleep(args.seconds)
    records = load.stop()
    print(report.format_summary(report.summarize(records, ())))
    print(f"sender lag: at most {load.max_lag_seconds * 1000:.1f} ms behind the schedule")
    return 0 if records and all(r.ok for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
