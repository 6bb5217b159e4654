"""A Release in the emulated cluster and a gateway to it, for the adapter tests."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from greenlight.kube.gateway import ClusterGateway
from greenlight.kube.target import ReleaseTarget
from greenlight.settings import OperatorSettings
from greenlight_sandbox.emulator import EmulatedCluster
from greenlight_sandbox.emulator.controllers import FakeControllers
from tests.kube.factories import release_body, target_of

CRD = pathlib.Path(__file__).parents[2] / "manifests" / "crds" / "releases.greenlight.dev.yaml"
SETTINGS = OperatorSettings(api_retries=3, api_retry_base_seconds=0.01, api_timeout_seconds=5)


@pytest.fixture()
def cluster(kube_cluster: EmulatedCluster) -> EmulatedCluster:
    kube_cluster.apply_crd(CRD)
    return kube_cluster


@pytest.fixture()
def api_client(cluster: EmulatedCluster) -> Iterator[Any]:
    api = cluster.api_client()
    yield api
    api.close()


@pytest.fixture()
def slept() -> list[float]:
    """The delays the gateway's retries asked for (no time passes in tests)."""
    return []


@pytest.fixture()
def gateway(api_client: Any, slept: list[float]) -> ClusterGateway:
    return ClusterGateway(api_client, SETTINGS, sleep=slept.append)


@pytest.fixture()
def target(cluster: EmulatedCluster) -> ReleaseTarget:
    stored = cluster.create(release_body())
    cluster.clear_requests()
    return target_of(stored)


@pytest.fixture()
def controllers(cluster: EmulatedCluster) -> FakeControllers:
    return FakeControllers(cluster)
