"""`make demo`: the whole operator on one machine, with nothing but Python.

An emulated API server runs in this process, with fake Deployment and EndpointSlice
controllers (EndpointSlices follow a Service's selector after a short, kube-proxy-like lag) and
the API server's service proxy answering gates the way the released pods would. The real
operator runs as a separate process (`kopf run --standalone -A -m greenlight.main`) against it,
and the `greenlight` CLI follows each release as a pipeline would. Three releases: a first one,
an update that switches traffic, and an update whose post-switch verification fails and is
rolled back by itself.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import tempfile

from greenlight_sandbox.emulator import EmulatedCluster
from greenlight_sandbox.emulator.controllers import FakeControllers
from tests.bench import TimedApps, operator_process
from tests.component.harness import CRD_PATH, NAMESPACE, release, set_image

ROOT = pathlib.Path(__file__).resolve().parents[1]

GATES = [
    {
        "name": "readyz",
        "http": {"path": "/readyz"},
        "intervalSeconds": 1,
        "successThreshold": 2,
        "failureThreshold": 2,
    }
]
VERIFY = {
    "durationSeconds": 3,
    "gates": [
        {
            "name": "errors",
            "http": {"path": "/healthz"},
            "intervalSeconds": 1,
            "failureThreshold": 1,
        }
    ],
}


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def cli(cluster: EmulatedCluster, *args: str) -> int:
    command = [
        sys.executable,
        "-m",
        "greenlight.cli",
        *args,
        "-n",
        NAMESPACE,
        "--kubeconfig",
        str(cluster.kubeconfig_path),
    ]
    print("$ greenlight " + " ".join(args), flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        cluster = stack.enter_context(EmulatedCluster())
        cluster.apply_crd(ROOT / CRD_PATH)
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        controllers = FakeControllers(cluster)
        controllers.run_in_background(auto_ready=True, auto_endpoints=True, lag_seconds=0.5)
        stack.callback(controllers.stop)
        apps = TimedApps(cluster)
        log = pathlib.Path(tmp) / "operator.log"
        stack.enter_context(operator_process(cluster, log))
        print(f"emulated API server at {cluster.url}; operator log: {log}")

        say("first release of web:1 (gates: readyz before the switch, errors after it)")
        cluster.create(
            release(
                "web",
                "web:1",
                gates=GATES,
                verification=VERIFY,
                strategy={"scaleDownDelaySeconds": 2},
            )
        )
        cli(cluster, "wait", "web", "--timeout", "60s")

        say("update to web:2: green comes up, is gated, traffic switches, blue is scaled down")
        set_image(cluster, "web:2")
        cli(cluster, "wait", "web", "--timeout", "60s")

        say("update to web:3, which fails after the switch: traffic goes back to green")
        apps.unhealthy.add(("web:3", "/healthz"))
        set_image(cluster, "web:3")
        code = cli(cluster, "wait", "web", "--timeout", "60s")
        print(f"(greenlight wait exited {code}: 1 means the release rolled back)")

        say("what the user sees")
        cli(cluster, "history", "web")
        cli(cluster, "status", "web")
        served = sum(1 for *_, ok in apps.answers if ok)
        print(f"\ngate probes answered: {len(apps.answers)} ({served} healthy)")
        if os.environ.get("DEMO_SHOW_LOG"):
            print(log.read_text())


if __name__ == "__main__":
    main()
