"""The Release API and dashboard in the sandbox: the chart's own `Release` of the API service.

The object is rendered by `helm template` from `charts/greenlight` with the sandbox's values
(`story/api-values.yaml`), exactly the object a `helm install` creates, and applied to the
sandbox; the operator then releases it blue-green like any workload, as real uvicorn processes.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import tempfile
from typing import Any

import yaml

from greenlight_sandbox.story import api_values_text

Obj = dict[str, Any]
CHART_RELEASE = "greenlight"  # the Helm release name: the API Release is `greenlight-api`
NAMESPACE = "greenlight-system"
RELEASE_NAME = f"{CHART_RELEASE}-api"
TEMPLATE = "templates/api/release.yaml"


class SandboxSetupError(RuntimeError):
    """Something the sandbox needs is missing; the message says what and how to get it."""


def render_api_release(chart: pathlib.Path) -> Obj:
    helm = shutil.which("helm")
    if helm is None:
        raise SandboxSetupError(
            "helm is not on PATH: `make tools` puts it in .tools/bin (make demo does this)."
        )
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values:
        values.write(api_values_text())
        values.flush()
        command = [
            helm,
            "template",
            CHART_RELEASE,
            str(chart),
            "--namespace",
            NAMESPACE,
            "--show-only",
            TEMPLATE,
            "--values",
            values.name,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SandboxSetupError(f"helm could not render the API service: {result.stderr.strip()}")
    release: Obj = yaml.safe_load(result.stdout)
    return release
