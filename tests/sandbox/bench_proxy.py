"""What a Service proxy adds to a request:
``python -m tests.sandbox.bench_proxy [seconds] [requests per second]``.

A pod (its own process, a tiny HTTP server on a loopback address) is asked at a fixed rate,
each request on a new connection, by a load generator in another process: once directly at
the pod's address, once through its Service's proxy, alternately. The difference of the
latency percentiles is what the proxy adds; failed requests are counted.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time

from greenlight_sandbox.addresses import POD_NETWORK, SERVICE_NETWORK
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from greenlight_sandbox.endpoints import EndpointSliceController
from greenlight_sandbox.serviceproxy import ServiceProxies
from tests.sandbox.pods import create_pod, random_pool, service

MODULE = "tests.sandbox.bench_proxy"
RATE = 200  # requests per second, by default
ROUNDS = 3  # alternations of direct and proxied runs


async def _pod(ip: str, port: int) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, ip, port, reuse_address=True, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


async def _load(host: str, port: int, seconds: float, rate: int) -> None:
    """Open-loop load: a new request every 1/rate s whatever the answers; print latencies."""
    latencies: list[float] = []
    failures = 0

    async def one() -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = await reader.read()
            writer.close()
            if not answer.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(answer[:40])
            latencies.append(time.perf_counter() - started)
        except OSError:
            failures += 1

    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for index in range(int(seconds * rate)):
        delay = start + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    print(json.dumps({"latencies": latencies, "failures": failures}))


def _run_load(address: tuple[str, int], seconds: float, rate: int) -> tuple[list[float], int]:
    command = [sys.executable, "-m", MODULE, "--load", *map(str, address), str(seconds), str(rate)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    data = json.loads(result.stdout)
    return data["latencies"], data["failures"]


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main(seconds: float, rate: int) -> None:
    pod_ip = random_pool(POD_NETWORK).allocate()
    pod = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--pod", pod_ip, "8080"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert pod.stdout is not None and pod.stdout.readline().strip() == "ready"
        with (
            EmulatedCluster(service_addresses=random_pool(SERVICE_NETWORK)) as cluster,
            EndpointSliceController(cluster).start(),
            ServiceProxies(cluster, propagation_lag_seconds=0).start() as proxies,
        ):
            create_pod(cluster, "web-1", {"app": "web"}, pod_ip)
            ports = [{"name": "http", "port": 8000, "targetPort": "http"}]
            cluster.create(service("web", {"app": "web"}, ports=ports))
            via_proxy = proxies.address("default", "web", timeout=10)
            wait_for(lambda: proxies.endpoints("default", "web", "http"), 10)
            results: dict[str, tuple[list[float], int]] = {"direct": ([], 0), "proxy": ([], 0)}
            cpu = {"direct": 0.0, "proxy": 0.0}  # this process's CPU: the proxy's, mostly
            for _ in range(ROUNDS):
                for name, address in (("direct", (pod_ip, 8080)), ("proxy", via_proxy)):
                    before = time.process_time()
                    latencies, failures = _run_load(address, seconds / ROUNDS, rate)
                    cpu[name] += time.process_time() - before
                    kept, failed = results[name]
                    results[name] = (kept + latencies, failed + failures)
            counters = proxies.counters("default", "web")
    finally:
        pod.terminate()
        pod.wait(10)
    figures = {name: (_percentile(v, 50), _percentile(v, 99)) for name, (v, _) in results.items()}
    for name, (p50, p99) in figures.items():
        count, failures = len(results[name][0]), results[name][1]
        print(
            f"{name:>6}: p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({count} requests, {failures} failed)"
        )
    added = [figures["proxy"][i] - figures["direct"][i] for i in (0, 1)]
    print(f" added: p50 {added[0]:.2f} ms  p99 {added[1]:.2f} ms at {rate} new connections/s")
    per_request = (cpu["proxy"] - cpu["direct"]) / max(1, len(results["proxy"][0])) * 1000
    print(f"proxy CPU: {per_request:.3f} ms per request ({per_request * rate / 10:.1f}% of a core)")
    print(f"proxy counters: {counters}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--pod"]:
        asyncio.run(_pod(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1:2] == ["--load"]:
        asyncio.run(_load(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])))
    else:
        arguments = sys.argv[1:]
        main(
            float(arguments[0]) if arguments else 30.0, int(arguments[1]) if arguments[1:] else RATE
        )
