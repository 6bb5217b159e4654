"""What the end-to-end tests do to a real cluster: install the chart, change Releases, follow
them with the `greenlight` CLI, and run load from inside the cluster.

Settings (environment variables), all optional:
- `GREENLIGHT_E2E_NAMESPACE` (greenlight-system) and `GREENLIGHT_E2E_HELM_RELEASE` (greenlight):
  where the chart is, or goes.
- `GREENLIGHT_E2E_API_RELEASE` (greenlight-api): the API service's Release.
- `GREENLIGHT_E2E_OPERATOR_IMAGE`, `GREENLIGHT_E2E_API_IMAGE` (greenlight/operator:dev,
  greenlight/api:dev): the images to install when the chart is not installed yet; they must be
  pullable by the cluster or loaded into it (`kind load docker-image`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import uuid
from typing import Any

import kubernetes

from greenlight.kube import client as kube_client
from greenlight_sandbox.emulator.waiting import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = "greenlight.dev", "v1alpha1", "releases"

# Runs in a pod of the cluster (in the API image, which has Python): requests the API's
# active Service by its DNS name, each on a new connection (so each goes through kube-proxy
# and sees the switch), and prints one JSON line of running totals every second.
LOAD_SCRIPT = """
import json, sys, time, urllib.request
url, limit = sys.argv[1], float(sys.argv[2])
ok = failed = 0
colors, errors = {}, []
start = last = time.monotonic()
while time.monotonic() - start < limit:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            color = json.load(answer).get("color", "")
        ok += 1
        colors[color] = colors.get(color, 0) + 1
    except Exception as error:
        failed += 1
        if len(errors) < 20:
            errors.append(f"{time.monotonic() - start:.1f}s {error!r}")
    if time.monotonic() - last >= 1:
        last = time.monotonic()
        print(json.dumps({"ok": ok, "failed": failed, "colors": colors, "errors": errors}),
              flush=True)
    time.sleep(0.02)
"""


@dataclasses.dataclass(frozen=True)
class Settings:
    namespace: str = os.environ.get("GREENLIGHT_E2E_NAMESPACE", "greenlight-system")
    helm_release: str = os.environ.get("GREENLIGHT_E2E_HELM_RELEASE", "greenlight")
    api_release: str = os.environ.get("GREENLIGHT_E2E_API_RELEASE", "greenlight-api")
    operator_image: str = os.environ.get("GREENLIGHT_E2E_OPERATOR_IMAGE", "greenlight/operator:dev")
    api_image: str = os.environ.get("GREENLIGHT_E2E_API_IMAGE", "greenlight/api:dev")


def connect(timeout: float = 5.0) -> kubernetes.client.ApiClient:
    """A client for the current context, as the CLI finds it (a kubeconfig first, even in a
    CI job running in a pod); raises when there is no reachable cluster."""
    connection = kube_client.resolve(kubeconfig_first=True)
    api_client = kubernetes.client.ApiClient(connection.configuration)
    kubernetes.client.VersionApi(api_client).get_code(_request_timeout=timeout)
    return api_client


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Runs a command from the repository root; its output goes to the test's log."""
    done = subprocess.run(
        list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    print(f"$ {' '.join(args)}\n{done.stdout}{done.stderr}")
    return done


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not on PATH (`make e2e` puts .tools/bin and .venv/bin there)"
    return found


def _split_image(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return image, "latest"
    return repository, tag


@dataclasses.dataclass
class Cluster:
    api_client: kubernetes.client.ApiClient
    settings: Settings

    @property
    def custom(self) -> Any:
        return kubernetes.client.CustomObjectsApi(self.api_client)

    @property
    def core(self) -> Any:
        return kubernetes.client.CoreV1Api(self.api_client)

    # --- the chart ---------------------------------------------------------------------

    def chart_installed(self) -> bool:
        done = run(
            tool("helm"), "status", self.settings.helm_release, "-n", self.settings.namespace
        )
        return done.returncode == 0

    def install_chart(self) -> None:
        operator_repo, operator_tag = _split_image(self.settings.operator_image)
        api_repo, api_tag = _split_image(self.settings.api_image)
        done = run(
            "scripts/helm-deploy.sh", self.settings.helm_release, self.settings.namespace,
            "--set", f"operator.image.repository={operator_repo}",
            "--set", f"operator.image.tag={operator_tag}",
            "--set", f"apiService.image.repository={api_repo}",
            "--set", f"apiService.image.tag={api_tag}",
            "--set", "apiService.strategy.scaleDownDelaySeconds=20",
            "--set", "apiService.verification.durationSeconds=15",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    # --- Releases ----------------------------------------------------------------------

    def release(self, name: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.settings.namespace, PLURAL, name or self.settings.api_release
        )
        return body

    def patch_release(self, patch: dict[str, Any], name: str | None = None) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.settings.namespace, PLURAL,
            name or self.settings.api_release, patch,
        )  # fmt: skip

    def new_revision(self, **spec: Any) -> None:
        """A change of the pod template (hence a new revision), plus `spec` changes."""
        nonce = {"metadata": {"annotations": {"e2e.greenlight.dev/nonce": uuid.uuid4().hex}}}
        self.patch_release({"spec": {"template": nonce, **spec}})

    def wait(self, name: str | None = None, timeout: str = "10m") -> int:
        """`greenlight wait NAME --for succeeded`: 0 succeeded, 1 rolled back/aborted/failed,
        2 timed out."""
        done = run(
            tool("greenlight"), "wait", name or self.settings.api_release,
            "-n", self.settings.namespace, "--for", "succeeded", "--timeout", timeout,
        )  # fmt: skip
        return done.returncode

    # --- load --------------------------------------------------------------------------

    def start_load(self, seconds: int = 600) -> str:
        """Starts the load pod against the API's active Service; returns its name."""
        release = self.release()
        image = release["spec"]["template"]["spec"]["containers"][0]["image"]
        service = release["spec"].get("service", {}).get("name", self.settings.api_release)
        url = f"http://{service}.{self.settings.namespace}.svc/version"
        name = f"e2e-load-{uuid.uuid4().hex[:8]}"
        restricted = {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "greenlight-e2e"}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "load",
                        "image": image,
                        "command": ["python", "-c", LOAD_SCRIPT, url, str(seconds)],
                        "securityContext": restricted,
                    }
                ],
            },
        }
        self.core.create_namespaced_pod(self.settings.namespace, pod)
        wait_for(
            lambda: self.load_progress(name).get("ok", 0) >= 20,
            timeout=120,
            message=f"the load pod {name} getting going",
        )
        return name

    def load_progress(self, name: str) -> dict[str, Any]:
        """The load pod's latest totals: {ok, failed, colors, errors}; {} before the first."""
        try:
            logs: str = self.core.read_namespaced_pod_log(name, self.settings.namespace)
        except kubernetes.client.ApiException:
            return {}
        lines = [line for line in logs.splitlines() if line.startswith("{")]
        latest: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        return latest

    def stop_load(self, name: str) -> dict[str, Any]:
        # The pod reports once a second: take a report made after this moment, so that the
        # totals cover everything up to now.
        seen = self.load_progress(name).get("ok", 0)
        totals: dict[str, Any] = wait_for(
            lambda: (latest := self.load_progress(name)).get("ok", 0) > seen and latest,
            timeout=30,
            message=f"a fresh report of the load pod {name}",
        )
        self.core.delete_namespaced_pod(name, self.settings.namespace, grace_period_seconds=0)
        print(f"load {name}: {totals}")
        return totals
