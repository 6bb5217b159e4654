"""The cluster the end-to-end tests run against: the current kube context.

Every test here is marked `e2e` (deselected by default) and, when selected, skipped with a
one-line reason when no cluster answers; with `GREENLIGHT_E2E_REQUIRE_CLUSTER=1` (the
pipeline's e2e job) a missing cluster fails them instead.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e import cluster as e2e


@pytest.fixture(scope="session")
def cluster() -> e2e.Cluster:
    try:
        api_client = e2e.connect()
    except Exception as error:  # no kubeconfig, no context, nothing listening, ...
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        message = f"no Kubernetes cluster reachable: {reason[:120]}"
        if os.environ.get("GREENLIGHT_E2E_REQUIRE_CLUSTER"):
            pytest.fail(message)
        pytest.skip(message)
    return e2e.Cluster(api_client=api_client, settings=e2e.Settings())


@pytest.fixture(scope="session")
def installed(cluster: e2e.Cluster) -> e2e.Cluster:
    """The chart installed (by `skaffold deploy -p e2e`, or here with scripts/helm-deploy.sh)
    and the API service's Release succeeded."""
    if not cluster.chart_installed():
        cluster.install_chart()
    assert cluster.wait() == 0, "the API service's first release did not succeed"
    return cluster
