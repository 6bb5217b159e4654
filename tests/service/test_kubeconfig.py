"""The service connects by the operator's and the CLI's rule (`greenlight.kube.client.resolve`):
`$KUBECONFIG` may be a colon-separated list, as kubectl allows."""

from __future__ import annotations

import os
import pathlib

import httpx
import pytest

from greenlight_api.core.config import AuthMode, Settings
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from tests.service import live


def test_the_service_connects_with_a_colon_separated_kubeconfig(
    kube_cluster: EmulatedCluster, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live.prepare(kube_cluster)
    live.make_release(kube_cluster, "web", phase="Succeeded")
    missing = tmp_path / "not-there"
    monkeypatch.setenv(
        "KUBECONFIG", os.pathsep.join([str(missing), str(kube_cluster.kubeconfig_path)])
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with live.serve_in_thread(Settings(kubeconfig=None, auth=AuthMode.NONE)) as url:

        def names() -> list[str]:
            listed = httpx.get(f"{url}/api/v1/releases", trust_env=False).json()
            return [item["name"] for item in listed["items"]]

        assert wait_for(lambda: names() == ["web"], timeout=10)
