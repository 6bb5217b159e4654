"""`python -m tests.bench_api` (part of `make bench`): figures of the API service. Prints,
asserts nothing.

The service runs as `uvicorn greenlight_api.main:app` (one worker) on loopback against the
emulated API server holding 1,000 Releases, with TokenReview auth on (reviews cached). A load
generator in a second process (this module with `--load`, raw HTTP/1.1 keep-alive over
asyncio, so that the client costs little next to the server) measures:

- `/healthz` at a fixed rate (500 requests/s by default). Open loop: each request is due at
  its scheduled time and its latency counts from then, so a stalled server cannot hide
  behind a client that waits for it (no coordinated omission);
- the list of all 1,000 Releases from the cache, one request at a time (closed loop), which
  gives its latency without queueing and the rate one client gets.

Targets on one worker: `/healthz` p99 under 10 ms at 500 requests/s; list p50 under 50 ms.
Knobs: BENCH_API_RELEASES (1000), BENCH_API_RATE (500), BENCH_API_SECONDS (10).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

from greenlight_sandbox.emulator import EmulatedCluster, UserInfo, wait_for
from tests.emulator.builders import RELEASE_CRD
from tests.service import live

TOKEN = "bench-token"


# --- the load generator (runs in its own process) ------------------------------------------


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status


def _raw(host: str, port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()


async def open_loop(host: str, port: int, path: str, rate: float, seconds: float) -> dict[str, Any]:
    raw = _raw(host, port, path)
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(32):
        pool.put_nowait(Connection(host, port))
    latencies: list[float] = []
    errors = 0

    async def one(due: float) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            if await connection.request(raw) != 200:
                errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            errors += 1
            connection = Connection(host, port)
        finally:
            pool.put_nowait(connection)
        latencies.append(time.perf_counter() - due)

    start = time.perf_counter()
    count = int(rate * seconds)
    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return _figures(latencies, errors, elapsed)


async def closed_loop(host: str, port: int, path: str, seconds: float) -> dict[str, Any]:
    raw = _raw(host, port, path)
    connection = Connection(host, port)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        began = time.perf_counter()
        if await connection.request(raw) != 200:
            errors += 1
        latencies.append(time.perf_counter() - began)
    return _figures(latencies, errors, time.perf_counter() - start)


def _figures(latencies: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return {
        "requests": len(ordered),
        "errors": errors,
        "rate": len(ordered) / elapsed if elapsed else 0.0,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": ordered[-1] * 1000 if ordered else 0.0,
        "mean_ms": statistics.fmean(ordered) * 1000 if ordered else 0.0,
    }


def load_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="0: closed loop")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.rate:
        result = asyncio.run(open_loop(args.host, args.port, args.path, args.rate, args.seconds))
    else:
        result = asyncio.run(closed_loop(args.host, args.port, args.path, args.seconds))
    print(json.dumps(result))


# --- the benchmark ---------------------------------------------------------------------------


def _populate(cluster: EmulatedCluster, count: int) -> None:
    for i in range(count):
        namespace = f"team-{i % 10}"
        name = f"app-{i:04d}"
        live.make_release(
            cluster,
            name,
            namespace,
            phase="Succeeded" if i % 7 else "Verifying",
            activeColor="blue",
            previewColor="green",
            stableRevision=3,
            currentRevision=3 if i % 7 else 4,
            message="every gate passed",
            gates=[{"name": "readyz", "phase": "Passed", "successes": 3}],
            history=[
                {
                    "revision": r,
                    "images": [f"example/{name}:{r}"],
                    "color": c,
                    "outcome": "Succeeded",
                }
                for r, c in ((3, "blue"), (2, "green"), (1, "blue"))
            ],
        )


def _load(url: str, path: str, *, rate: float, seconds: float) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    command = [
        sys.executable,
        "-m",
        "tests.bench_api",
        "--load",
        "--host",
        host,
        "--port",
        port,
        "--path",
        path,
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=live.REPO, timeout=seconds + 120
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _print(title: str, figures: dict[str, Any], target: str) -> None:
    print(
        f"{title:<44} {figures['requests']:>6} req  {figures['rate']:>7.1f} req/s  "
        f"p50 {figures['p50_ms']:>6.2f} ms  p90 {figures['p90_ms']:>6.2f} ms  "
        f"p99 {figures['p99_ms']:>6.2f} ms  max {figures['max_ms']:>7.2f} ms  "
        f"errors {figures['errors']}  ({target})"
    )


def main() -> None:
    releases = int(os.environ.get("BENCH_API_RELEASES", "1000"))
    rate = float(os.environ.get("BENCH_API_RATE", "500"))
    seconds = float(os.environ.get("BENCH_API_SECONDS", "10"))
    with EmulatedCluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        cluster.apply_crd(RELEASE_CRD)
        cluster.tokens[TOKEN] = UserInfo("bench", ("bench",))
        cluster.allow("bench", "list", "releases")
        started = time.perf_counter()
        _populate(cluster, releases)
        print(f"{releases} Releases created in {time.perf_counter() - started:.1f} s")
        env = {
            "GREENLIGHT_API_KUBECONFIG": str(cluster.kubeconfig_path),
            "GREENLIGHT_API_AUTH": "tokenreview",
            "GREENLIGHT_API_LOG_LEVEL": "WARNING",
            "GREENLIGHT_API_DRAIN_GRACE_SECONDS": "0",
        }
        started = time.perf_counter()
        with live.serve_in_subprocess(env, pathlib.Path(tmp) / "service.log") as (url, process):
            print(f"service ready (cache synced) in {time.perf_counter() - started:.2f} s")
            with httpx.Client(base_url=url, trust_env=False) as client:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                wait_for(
                    lambda: (
                        len(client.get("/api/v1/releases", headers=headers).json()["items"])
                        == releases
                    ),
                    timeout=30,
                )
                size = len(client.get("/api/v1/releases", headers=headers).content)
            print(f"list of {releases} Releases: {size / 1024:.0f} KiB of JSON")
            healthz = _load(url, "/healthz", rate=rate, seconds=seconds)
            _print(f"/healthz at {rate:.0f} req/s (open loop)", healthz, "target p99 < 10 ms")
            listing = _load(url, "/api/v1/releases", rate=0, seconds=seconds)
            _print(f"list of {releases} Releases (1 client)", listing, "target p50 < 50 ms")
            process.terminate()


if __name__ == "__main__":
    if "--load" in sys.argv:
        load_main([arg for arg in sys.argv[1:] if arg != "--load"])
    else:
        main()
