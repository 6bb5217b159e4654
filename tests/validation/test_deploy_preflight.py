"""scripts/deploy-preflight.sh: a deploy stops before it installs or assumes anything when a
variable it needs is missing, or when the Release it moves would get the API's image."""

from __future__ import annotations

import os
import subprocess

from tests.validation import tools

COMPLETE = {
    "DEPLOY_ROLE_ARN": "arn:aws:iam::role/x", "EKS_CLUSTER": "c", "AWS_REGION": "eu-west-1",
    "REGISTRY_DEPLOY_USER": "u", "REGISTRY_DEPLOY_TOKEN": "t",
}  # fmt: skip


def _preflight(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in COMPLETE and not k.startswith("APP_")}
    return subprocess.run(
        ["bash", "scripts/deploy-preflight.sh"], cwd=tools.ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_passes_with_every_variable() -> None:
    assert _preflight(**COMPLETE).returncode == 0


def test_names_each_missing_variable() -> None:
    done = _preflight(EKS_CLUSTER="c")
    assert done.returncode == 1
    for name in ("DEPLOY_ROLE_ARN", "AWS_REGION", "REGISTRY_DEPLOY_TOKEN"):
        assert f"the CI variable {name} is not set" in done.stderr
    assert "EKS_CLUSTER" not in done.stderr


def test_another_release_needs_its_own_image() -> None:
    done = _preflight(**COMPLETE, APP_RELEASE="web")
    assert done.returncode == 1
    assert "APP_RELEASE is web but APP_IMAGE is not set" in done.stderr
    assert _preflight(**COMPLETE, APP_RELEASE="web", APP_IMAGE="r/web:1").returncode == 0
    assert _preflight(**COMPLETE, APP_RELEASE="greenlight-api").returncode == 0
