"""Pytest fixtures of the emulated cluster, registered as a plugin from ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenlight_sandbox.emulator.cluster import EmulatedCluster


@pytest.fixture()
def kube_cluster() -> Iterator[EmulatedCluster]:
    """A fresh emulated cluster per test; fails the test if the emulator itself failed."""
    with EmulatedCluster() as cluster:
        yield cluster
        errors = cluster.server_errors
    if errors:
        pytest.fail("The emulated API server failed:\n" + "\n".join(errors), pytrace=False)
