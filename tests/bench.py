"""`make bench`: figures of the operator against the emulated API server. Prints, asserts nothing.

The operator runs as a real process (`kopf run --standalone -A -m greenlight.main`) with a
kubeconfig pointing at the emulated API server in this process; fake controllers make
Deployments ready and EndpointSlices follow Services, and the service proxy answers gates.

- switch latency: the last passing pre-switch probe answered -> the active Service PATCHed;
- rollback latency: the failing post-switch probe answered -> the Service PATCHed back;
- API requests per release (first release and an update, until scaled down);
- 1,000 idle Releases: the operator's peak RSS and its API requests per minute once started;
- a wave of 100 simultaneous releases with injected 500/429 errors: time to all Succeeded,
  errors injected, and errors the operator left unretried (failed ticks in its log).

The API service has its own figures: `python -m tests.bench_api` (run by `make bench` too).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pathlib
import statistics
import tempfile
import threading
import time
from typing import Any

from greenlight import models
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from greenlight_sandbox.emulator.controllers import FakeControllers
from greenlight_sandbox.programs import operator_process
from tests.component.harness import CRD_PATH, NAMESPACE, release, set_image

ROOT = pathlib.Path(__file__).resolve().parents[1]


class TimedApps:
    """Answers gate probes through the service proxy and remembers when each was answered."""

    def __init__(self, cluster: EmulatedCluster) -> None:
        self.cluster = cluster
        self.unhealthy: set[tuple[str, str]] = set()  # (image, path)
        self.answers: list[tuple[float, str, str, bool]] = []  # (time, release, image, ok)
        self.lock = threading.Lock()
        cluster.set_service_proxy(self.answer)

    def answer(
        self, namespace: str, service: str, port: str | None, path: str
    ) -> tuple[int, str] | None:
        svc = self.cluster.get("v1", "services", namespace, service)
        selector = (svc or {}).get("spec", {}).get("selector") or {}
        name, color = selector.get(models.LABEL_RELEASE), selector.get(models.LABEL_COLOR)
        deployment = self.cluster.get("apps/v1", "deployments", namespace, f"{name}-{color}")
        if not deployment or not deployment.get("status", {}).get("readyReplicas"):
            return None
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        ok = (image, path) not in self.unhealthy
        with self.lock:
            self.answers.append((time.monotonic(), str(name), image, ok))
        return (200, "ok") if ok else (503, "unhealthy")


def peak_rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def phase_of(cluster: EmulatedCluster, name: str) -> tuple[str, int, int]:
    body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, name) or {}
    status = body.get("status") or {}
    return (
        status.get("phase", ""),
        int(status.get("observedGeneration") or 0),
        int(body.get("metadata", {}).get("generation") or 0),
    )


def wait_phase(cluster: EmulatedCluster, name: str, phase: str, timeout: float = 60) -> None:
    def done() -> bool:
        current, observed, generation = phase_of(cluster, name)
        return current == phase and observed == generation

    if not wait_for(done, timeout=timeout):
        raise TimeoutError(f"{name} did not reach {phase}: {phase_of(cluster, name)}")


def scale_down_done(cluster: EmulatedCluster, name: str) -> bool:
    body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, name) or {}
    return not body.get("status", {}).get("scaleDownColor")


def first_patch_after(cluster: EmulatedCluster, service: str, moment: float) -> float | None:
    later = [t for t in service_patches(cluster, service) if t >= moment]
    return min(later) if later else None


def service_patches(cluster: EmulatedCluster, service: str) -> list[float]:
    return [
        r.time
        for r in cluster.requests
        if r.method == "PATCH" and r.path.endswith(f"/services/{service}")
    ]


def prepared_cluster(stack: contextlib.ExitStack) -> tuple[EmulatedCluster, TimedApps]:
    cluster = stack.enter_context(EmulatedCluster())
    cluster.apply_crd(ROOT / CRD_PATH)
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    controllers = FakeControllers(cluster)
    controllers.run_in_background(auto_ready=True, auto_endpoints=True)
    stack.callback(controllers.stop)
    return cluster, TimedApps(cluster)


GATE = {
    "name": "readyz",
    "http": {"path": "/readyz"},
    "intervalSeconds": 1,
    "successThreshold": 1,
    "failureThreshold": 1,
}


def bench_latencies(rounds: int, workdir: pathlib.Path) -> dict[str, Any]:
    switch, rollback, per_release = [], [], []
    with contextlib.ExitStack() as stack:
        cluster, apps = prepared_cluster(stack)
        stack.enter_context(operator_process(cluster.kubeconfig_path, workdir / "latency.log"))
        for n in range(rounds):
            name = f"lat{n}"
            verify = {
                "durationSeconds": 1,
                "gates": [{**GATE, "name": "smoke", "http": {"path": "/verify"}}],
            }
            cluster.clear_requests()
            cluster.create(
                release(
                    name,
                    "app:1",
                    gates=[GATE],
                    verification=verify,
                    strategy={"scaleDownDelaySeconds": 0},
                )
            )
            wait_phase(cluster, name, "Succeeded")
            # Switch latency on the update: last passing pre-switch probe -> Service PATCH.
            set_image(cluster, "app:2", name)
            wait_phase(cluster, name, "Succeeded")
            wait_for(functools.partial(scale_down_done, cluster, name), timeout=30)
            per_release.append(len(cluster.requests) / 2)
            passes = [t for t, rel, image, ok in apps.answers if rel == name and image == "app:2"]
            switched = first_patch_after(cluster, name, passes[0])
            assert switched is not None
            last_pass_before = max(t for t in passes if t <= switched)
            switch.append((switched - last_pass_before) * 1000)
            # Rollback latency: a failing post-switch probe -> the Service PATCHed back.
            apps.unhealthy.add(("app:3", "/verify"))
            set_image(cluster, "app:3", name)
            wait_phase(cluster, name, "RolledBack")
            failed = min(t for t, rel, image, ok in apps.answers if rel == name and not ok)
            # Status is written before the Service is patched: wait for the patch itself.
            back = wait_for(functools.partial(first_patch_after, cluster, name, failed), timeout=10)
            assert back is not None
            rollback.append((back - failed) * 1000)
    return {
        "switch_ms": switch,
        "rollback_ms": rollback,
        "requests_per_release": per_release,
    }


def bench_idle(count: int, workdir: pathlib.Path) -> dict[str, float]:
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(EmulatedCluster())
        cluster.apply_crd(ROOT / CRD_PATH)
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        for n in range(count):
            body = cluster.create(release(f"idle{n}", "app:1"))
            generation = body["metadata"].get("generation", 1)
            cluster.patch(
                models.API_VERSION,
                models.PLURAL,
                NAMESPACE,
                f"idle{n}",
                {
                    "status": {
                        "phase": "Succeeded",
                        "observedGeneration": generation,
                        "activeColor": "blue",
                        "stableColor": "blue",
                        "stableRevision": 1,
                        "currentRevision": 1,
                    }
                },
                subresource="status",
            )
        cluster.clear_requests()
        with operator_process(cluster.kubeconfig_path, workdir / "idle.log") as process:
            started = time.monotonic()
            # Settled once the initial list is done; then measure a quiet minute's share.
            wait_for(
                lambda: any(
                    "watch" in (r.query or {}) or "watch=" in r.path for r in cluster.requests
                ),
                timeout=60,
            )
            settle = time.monotonic()
            window = 20.0
            time.sleep(window)  # a measurement window, not a wait for a condition
            requests = [r for r in cluster.requests if r.time >= settle]
            non_watch = [
                r for r in requests if not any(k.lower() == "watch" for k in (r.query or {}))
            ]
            rss = peak_rss_mb(process.pid)
        return {
            "releases": count,
            "startup_s": settle - started,
            "peak_rss_mb": rss,
            "requests_per_min": len(non_watch) * 60 / window,
        }


def bench_wave(count: int, workdir: pathlib.Path) -> dict[str, float]:
    with contextlib.ExitStack() as stack:
        cluster, _apps = prepared_cluster(stack)
        log = workdir / "wave.log"
        stack.enter_context(operator_process(cluster.kubeconfig_path, log))
        cluster.inject_errors(
            method="PATCH", path_regex=r"/status$", status=429, count=20, retry_after=0
        )
        cluster.inject_errors(method="POST", path_regex=r"/deployments$", status=500, count=20)
        cluster.inject_errors(method="PATCH", path_regex=r"/services/", status=503, count=10)
        started = time.monotonic()
        for n in range(count):
            cluster.create(
                release(f"wave{n}", "app:1", gates=[GATE], strategy={"scaleDownDelaySeconds": 0})
            )
        for n in range(count):
            wait_phase(cluster, f"wave{n}", "Succeeded", timeout=300)
        elapsed = time.monotonic() - started
        injected = sum(1 for r in cluster.requests if r.status in (429, 500, 503))
        text = log.read_text(errors="replace")
        # A tick whose API call still failed after the client's retries is logged by Kopf
        # (as a temporary failure, or an exception) and retried as a whole.
        failed_ticks = text.count("failed temporarily") + text.count("failed with an exception")
    return {
        "releases": count,
        "all_succeeded_s": elapsed,
        "errors_injected": injected,
        "ticks_failed_after_retries": failed_ticks,
    }


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, n={len(ordered)}"


def main() -> None:
    rounds = int(os.environ.get("BENCH_ROUNDS", "10"))
    idle = int(os.environ.get("BENCH_IDLE_RELEASES", "1000"))
    wave = int(os.environ.get("BENCH_WAVE", "100"))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        latencies = bench_latencies(rounds, workdir)
        print(
            "switch latency (last gate pass -> selector patched): "
            f"{describe(latencies['switch_ms'])}"
        )
        print(
            f"rollback latency (failed post-switch probe -> selector back): "
            f"{describe(latencies['rollback_ms'])}"
        )
        print(
            f"API requests per release (first release + one update, until scaled down): "
            f"{statistics.median(latencies['requests_per_release']):.0f}"
        )
        figures = bench_idle(idle, workdir)
        print(
            f"{figures['releases']} idle Releases: peak RSS {figures['peak_rss_mb']:.0f} MB, "
            f"{figures['requests_per_min']:.1f} API requests/min besides the watch, "
            f"started in {figures['startup_s']:.1f} s"
        )
        wave_figures = bench_wave(wave, workdir)
        print(
            f"wave of {wave_figures['releases']:.0f} simultaneous releases: all Succeeded in "
            f"{wave_figures['all_succeeded_s']:.1f} s; {wave_figures['errors_injected']:.0f} "
            f"API errors injected, {wave_figures['ticks_failed_after_retries']:.0f} left "
            "unretried (ticks failed after the client's retries; Kopf retried those too)"
        )


if __name__ == "__main__":
    main()
