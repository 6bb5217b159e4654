"""A plain `helm uninstall` leaves nothing Terminating: the chart's pre-delete hook stops the
operator and releases its finalizer first, so the API service's Release goes with the chart and
a namespace deleted afterwards around a Release in flight goes too.

It uninstalls the chart, so it runs after the release flow (this file sorts last); a later
`make e2e` installs the chart again (the `installed` fixture)."""

from __future__ import annotations

import uuid
from typing import Any

import kubernetes
import pytest

from greenlight import models
from greenlight_sandbox.emulator.waiting import wait_for
from tests.e2e import cluster as e2e

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _in_flight_release(name: str, namespace: str, image: str) -> dict[str, Any]:
    """A Release waiting for a promote that never comes: in flight until the end."""
    return {
        "apiVersion": models.API_VERSION,
        "kind": models.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "idle",
                            "image": image,
                            "command": ["python", "-c", "import time; time.sleep(3600)"],
                            "ports": [{"containerPort": 8000}],
                        }
                    ]
                },
            },
            "strategy": {"autoPromote": False},
        },
    }


def _gone(read: Any) -> bool:
    try:
        read()
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def test_plain_helm_uninstall_leaves_nothing_terminating(installed: e2e.Cluster) -> None:
    namespace = f"e2e-uninstall-{uuid.uuid4().hex[:6]}"
    installed.core.create_namespace({"metadata": {"name": namespace}})
    installed.custom.create_namespaced_custom_object(
        e2e.GROUP, e2e.VERSION, namespace, e2e.PLURAL,
        _in_flight_release("idle", namespace, installed.settings.operator_image),
    )  # fmt: skip

    def carries_finalizer(ns: str, name: str) -> bool:
        body = installed.custom.get_namespaced_custom_object(
            e2e.GROUP, e2e.VERSION, ns, e2e.PLURAL, name
        )
        return models.FINALIZER in (body["metadata"].get("finalizers") or [])

    wait_for(lambda: carries_finalizer(namespace, "idle"), 120, interval=1.0)
    assert carries_finalizer(installed.settings.namespace, installed.settings.api_release)

    done = e2e.run(
        e2e.tool("helm"), "uninstall", installed.settings.helm_release,
        "-n", installed.settings.namespace, "--wait", "--timeout", "5m",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    installed.core.delete_namespace(namespace)

    def api_release() -> Any:
        return installed.release()

    def test_namespace() -> Any:
        return installed.core.read_namespace(namespace)

    wait_for(lambda: _gone(api_release), 120, interval=1.0, message="the API Release is stuck")
    wait_for(lambda: _gone(test_namespace), 240, interval=1.0, message=f"{namespace} is stuck")
    left = installed.custom.list_cluster_custom_object(e2e.GROUP, e2e.VERSION, e2e.PLURAL)
    terminating = [
        f"{item['metadata']['namespace']}/{item['metadata']['name']}"
        for item in left["items"]
        if item["metadata"].get("deletionTimestamp")
    ]
    assert terminating == []
