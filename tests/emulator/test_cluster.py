"""The facade: lifecycle, kubeconfig, threads, other processes, requests, waiting."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import yaml

from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from tests.emulator.builders import CONFIGMAPS, configmap


def test_start_and_stop() -> None:
    with EmulatedCluster() as cluster:
        assert cluster.url.startswith("http://127.0.0.1:")
        path = cluster.kubeconfig_path
        assert path.exists()
    assert not path.exists()
    cluster.stop()  # idempotent


def test_kubeconfig(kube_cluster: EmulatedCluster) -> None:
    config = yaml.safe_load(kube_cluster.kubeconfig_path.read_text())
    assert config["current-context"] == "emulated"
    assert config["clusters"][0]["cluster"]["server"] == kube_cluster.url
    assert config["users"][0]["user"]["token"] == "admin-token"


def test_another_process_uses_the_kubeconfig(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("from-the-test"))
    script = (
        "import sys, kubernetes\n"
        "api = kubernetes.config.new_client_from_config(config_file=sys.argv[1])\n"
        "core = kubernetes.client.CoreV1Api(api)\n"
        "core.create_namespaced_config_map('default', {'metadata': {'name': 'from-a-child'}})\n"
        "items = core.list_namespaced_config_map('default').items\n"
        "print(','.join(i.metadata.name for i in items))\n"
        "api.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(kube_cluster.kubeconfig_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "from-a-child,from-the-test"


def test_usable_from_threads(kube_cluster: EmulatedCluster) -> None:
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for j in range(10):
                kube_cluster.create(configmap(f"t{index}-{j}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(kube_cluster.list(*CONFIGMAPS, "default")) == 40


def test_requests_are_recorded(kube_cluster: EmulatedCluster) -> None:
    kube_cluster.create(configmap("a"))  # the harness: not recorded
    with kube_cluster.api_client() as api:
        import kubernetes.client

        kubernetes.client.CoreV1Api(api).list_namespaced_config_map("default", label_selector="a=b")
    (request,) = kube_cluster.requests
    assert (request.method, request.path, request.status) == (
        "GET",
        "/api/v1/namespaces/default/configmaps",
        200,
    )
    assert request.query == {"labelSelector": "a=b"}
    assert request.time > 0
    assert request.answered >= request.time  # when the answer was ready
    kube_cluster.clear_requests()
    assert kube_cluster.requests == []


def test_wait_for() -> None:
    values = iter([0, 0, 3])
    assert wait_for(lambda: next(values), timeout=1) == 3
    with pytest.raises(TimeoutError, match="never"):
        wait_for(lambda: False, timeout=0.05, message="never")
