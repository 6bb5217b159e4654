"""Every request carries the kubeconfig's credentials; a refusal is not retried."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from greenlight.kube.client import load_api_client
from greenlight.kube.gateway import ClusterGateway
from greenlight.settings import OperatorSettings
from greenlight_sandbox.emulator import EmulatedCluster
from tests.kube.conftest import CRD
from tests.kube.factories import release_body, target_of

SETTINGS = OperatorSettings(api_retries=3, api_retry_base_seconds=0.01)


def test_requests_authenticate_with_the_kubeconfig_token(tmp_path: pathlib.Path) -> None:
    with EmulatedCluster(require_auth=True) as cluster:
        cluster.apply_crd(CRD)
        target = target_of(cluster.create(release_body()))
        good = load_api_client(kubeconfig=str(cluster.kubeconfig_path))
        bad_path = tmp_path / "kubeconfig"
        bad_path.write_text(yaml.safe_dump(cluster.kubeconfig(token="not-a-token")))
        bad = load_api_client(kubeconfig=str(bad_path))
        slept: list[float] = []
        try:
            view = ClusterGateway(good, SETTINGS).observe(target, want_endpoints=False)
            assert view.stored_revisions == frozenset()
            with pytest.raises(ApiException) as raised:
                ClusterGateway(bad, SETTINGS, sleep=slept.append).observe(
                    target, want_endpoints=False
                )
            assert raised.value.status == 401
            assert slept == []
        finally:
            good.close()
            bad.close()
        assert cluster.server_errors == []
