"""Fixtures of the sandbox's tests: a cluster with graceful pod deletion, a kubelet running
the test images, and a Deployment controller; every process is gone when a test ends."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

from greenlight_sandbox.addresses import POD_NETWORK, AddressPool
from greenlight_sandbox.deployments import DeploymentController
from greenlight_sandbox.emulator import EmulatedCluster
from greenlight_sandbox.images import ImageMap
from greenlight_sandbox.kubelet import Kubelet

TEST_IMAGES = pathlib.Path(__file__).with_name("images.yaml")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the number now belongs to someone else's process
        return False
    return True


@pytest.fixture()
def cluster() -> Iterator[EmulatedCluster]:
    with EmulatedCluster(graceful_pod_deletion=True) as emulated:
        yield emulated
        errors = emulated.server_errors
    assert not errors, "\n".join(errors)


@pytest.fixture()
def kubelet(cluster: EmulatedCluster, tmp_path: pathlib.Path) -> Iterator[Kubelet]:
    node = Kubelet(
        cluster,
        images=ImageMap.load(TEST_IMAGES),
        pod_addresses=AddressPool(POD_NETWORK),
        log_dir=tmp_path / "logs",
        stop_grace_seconds=1.0,
    )
    node.start()
    try:
        yield node
    finally:
        node.stop()
        survivors = [pid for pid in node.started_pids if _alive(pid)]
        assert not survivors, f"processes outlived the kubelet: {survivors}"
        assert not node.errors, node.errors


@pytest.fixture()
def deployments(cluster: EmulatedCluster, kubelet: Kubelet) -> Iterator[DeploymentController]:
    """The Deployment controller, with the kubelet running the pods it makes."""
    controller = DeploymentController(cluster)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
        assert not controller.errors, controller.errors
