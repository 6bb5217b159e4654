"""The sandbox's Deployment controller, with the kubelet running real pods."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from greenlight.kube.deployments import color_state
from greenlight_sandbox.deployments import DeploymentController, template_hash
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from greenlight_sandbox.kubelet import Kubelet
from tests.emulator.streams import open_watch
from tests.sandbox.helpers import (
    PODS,
    deployment,
    fetch,
    get_pod,
    is_ready,
    wait_pod,
)

DEPLOYMENTS = ("apps/v1", "deployments")
Obj = dict[str, Any]


def _get(cluster: EmulatedCluster, name: str) -> Obj:
    found = cluster.get(*DEPLOYMENTS, "default", name)
    assert found is not None
    return found


def _wait(
    cluster: EmulatedCluster, name: str, predicate: Callable[[Obj], bool], timeout: float = 15
) -> Obj:
    def check() -> Obj | None:
        current = _get(cluster, name)
        return current if predicate(current) else None

    found = wait_for(check, timeout, message=f"deployment {name}")
    assert found is not None
    return found


def _rolled_out(replicas: int) -> Callable[[Obj], bool]:
    def check(obj: Obj) -> bool:
        return color_state(obj).rolled_out and obj["spec"]["replicas"] == replicas

    return check


def _pods(cluster: EmulatedCluster, name: str, *, terminating: bool = False) -> list[Obj]:
    listed = cluster.list(*PODS, "default", label_selector=f"app={name}")
    return [p for p in listed if terminating or not p["metadata"].get("deletionTimestamp")]


def _conditions(obj: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions") or []}


def _scale(cluster: EmulatedCluster, name: str, replicas: int) -> None:
    cluster.patch(*DEPLOYMENTS, "default", name, {"spec": {"replicas": replicas}})


def test_a_deployment_scaled_from_0_to_2_and_back(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    created = cluster.create(deployment("web", replicas=0))
    empty = _wait(cluster, "web", lambda d: d.get("status", {}).get("observedGeneration") == 1)
    assert set(empty["status"]) == {"observedGeneration", "conditions"}  # zeros are omitted
    conditions = _conditions(empty)
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert color_state(empty).rolled_out
    assert _pods(cluster, "web") == []

    _scale(cluster, "web", 2)
    scaled = _wait(cluster, "web", _rolled_out(2))
    counts = {k: v for k, v in scaled["status"].items() if k != "conditions"}
    assert counts == {
        "observedGeneration": 2,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    pod_hash = template_hash(created["spec"]["template"])
    assert re.fullmatch(r"[a-z0-9]{10}", pod_hash)
    pods = _pods(cluster, "web")
    assert len(pods) == 2
    for pod in pods:
        assert re.fullmatch(rf"web-{pod_hash}-[a-z0-9]{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
        (owner,) = pod["metadata"]["ownerReferences"]
        assert owner["uid"] == created["metadata"]["uid"] and owner["controller"] is True
        assert is_ready(pod)
        assert fetch(f"http://{pod['status']['podIP']}:8080/")[0] == 200

    _scale(cluster, "web", 0)
    down = _wait(cluster, "web", _rolled_out(0))
    assert set(down["status"]) == {"observedGeneration", "conditions"}
    wait_for(lambda: _pods(cluster, "web", terminating=True) == [], 10, message="pods gone")


def test_a_template_change_rolls_the_pods_within_surge_and_availability(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    cluster.create(deployment("web", replicas=3))
    _wait(cluster, "web", _rolled_out(3))
    old_names = {p["metadata"]["name"] for p in _pods(cluster, "web")}
    before = len(cluster.history(*DEPLOYMENTS, "default", "web"))

    patch = {"spec": {"template": {"metadata": {"annotations": {"example.com/rev": "2"}}}}}
    changed = cluster.patch(*DEPLOYMENTS, "default", "web", patch)
    new_hash = template_hash(changed["spec"]["template"])
    done = _wait(
        cluster,
        "web",
        lambda d: _rolled_out(3)(d) and d["status"]["observedGeneration"] == 2,
        timeout=30,
    )
    pods = _pods(cluster, "web")
    assert len(pods) == 3
    assert all(p["metadata"]["labels"]["pod-template-hash"] == new_hash for p in pods)
    assert not old_names & {p["metadata"]["name"] for p in pods}
    assert all(p["metadata"]["annotations"] == {"example.com/rev": "2"} for p in pods)
    progressing = _conditions(done)["Progressing"]
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert f'"web-{new_hash}"' in progressing["message"]

    # 25% of 3: at most one pod beyond 3 (rounded up), none of 3 unavailable (rounded down).
    during = cluster.history(*DEPLOYMENTS, "default", "web")[before:]
    assert len(during) > 3
    for version in during:
        status = version.get("status") or {}
        assert status.get("replicas", 0) <= 4, status
        assert status.get("availableReplicas", 0) >= 3, status


def test_recreate_deletes_every_old_pod_before_creating_new_ones(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    cluster.create(deployment("web", replicas=2, strategy={"type": "Recreate"}))
    _wait(cluster, "web", _rolled_out(2))
    old_names = {p["metadata"]["name"] for p in _pods(cluster, "web")}
    with open_watch(cluster, "/api/v1/namespaces/default/pods") as stream:
        patch = {"spec": {"template": {"metadata": {"annotations": {"example.com/rev": "2"}}}}}
        cluster.patch(*DEPLOYMENTS, "default", "web", patch)
        _wait(
            cluster, "web", lambda d: _rolled_out(2)(d) and d["status"]["observedGeneration"] == 2
        )
        events: list[Obj] = []

        def new_added() -> int:
            return sum(
                1
                for e in events
                if e["type"] == "ADDED" and e["object"]["metadata"]["name"] not in old_names
            )

        while new_added() < 2:
            event = stream.next(timeout=5)
            assert event is not None
            events.append(event)

    def stopped(event: Obj) -> bool:  # gone, or its containers have ended for good
        phase = (event["object"].get("status") or {}).get("phase")
        return event["type"] == "DELETED" or phase in ("Succeeded", "Failed")

    names = [e["object"]["metadata"]["name"] for e in events]
    old_stopped = {
        name: min(i for i, e in enumerate(events) if names[i] == name and stopped(e))
        for name in old_names
    }
    first_new = min(
        i for i, e in enumerate(events) if e["type"] == "ADDED" and names[i] not in old_names
    )
    assert max(old_stopped.values()) < first_new, [
        (e["type"], n) for e, n in zip(events, names, strict=True)
    ]


def test_scaling_down_takes_not_ready_pods_first_then_the_newest(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    cluster.create(deployment("web", replicas=1, readiness_failures=1))
    names: list[str] = []
    for replicas in (1, 2, 3):
        _scale(cluster, "web", replicas)
        _wait(cluster, "web", _rolled_out(replicas))
        (added,) = [p for p in _pods(cluster, "web") if p["metadata"]["name"] not in names]
        names.append(added["metadata"]["name"])
    first, second, third = names
    first_pod = next(p for p in _pods(cluster, "web") if p["metadata"]["name"] == first)
    fetch(f"http://{first_pod['status']['podIP']}:8080/control?ready=0")
    wait_pod(cluster, first, lambda p: not is_ready(p))
    _wait(cluster, "web", lambda d: d["status"].get("readyReplicas") == 2)

    _scale(cluster, "web", 2)
    _wait(cluster, "web", _rolled_out(2))
    assert {p["metadata"]["name"] for p in _pods(cluster, "web")} == {second, third}
    _scale(cluster, "web", 1)
    _wait(cluster, "web", _rolled_out(1))
    assert [p["metadata"]["name"] for p in _pods(cluster, "web")] == [second]


def test_a_rollout_that_never_becomes_ready_exceeds_its_progress_deadline(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    cluster.create(deployment("web", image="nowhere/nothing:1", progressDeadlineSeconds=2))
    failed = _wait(
        cluster,
        "web",
        lambda d: _conditions(d).get("Progressing", {}).get("reason") == "ProgressDeadlineExceeded",
        timeout=8,
    )
    conditions = _conditions(failed)
    assert conditions["Progressing"]["status"] == "False"
    assert conditions["Available"]["status"] == "False"
    assert failed["status"]["unavailableReplicas"] == 1
    assert not color_state(failed).rolled_out


def test_terminating_pods_do_not_count(
    cluster: EmulatedCluster, deployments: DeploymentController, kubelet: Kubelet
) -> None:
    cluster.create(deployment("web", replicas=1, env={"IGNORE_SIGTERM": "1"}, grace=3))
    _wait(cluster, "web", _rolled_out(1))
    (pod,) = _pods(cluster, "web")
    name = pod["metadata"]["name"]
    wait_for(lambda: "listening" in (kubelet.read_log("default", name, "app") or ""), 5)
    _scale(cluster, "web", 0)
    down = _wait(cluster, "web", _rolled_out(0), timeout=2)
    assert "replicas" not in down["status"]
    held = get_pod(cluster, name)
    assert held is not None and held["metadata"]["deletionTimestamp"]  # still stopping
    wait_for(lambda: get_pod(cluster, name) is None, 8, message="the kubelet deleted the pod")


def test_a_deleted_pod_is_replaced(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    cluster.create(deployment("web", replicas=1))
    _wait(cluster, "web", _rolled_out(1))
    (pod,) = _pods(cluster, "web")
    cluster.delete(*PODS, "default", pod["metadata"]["name"])
    replacement = wait_for(
        lambda: [
            p for p in _pods(cluster, "web") if p["metadata"]["uid"] != pod["metadata"]["uid"]
        ],
        10,
    )
    wait_pod(cluster, replacement[0]["metadata"]["name"], is_ready)
    _wait(cluster, "web", _rolled_out(1))


def test_scale_up_to_an_answering_pod_is_quick(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    cluster.create(deployment("web", replicas=0, image="test/static:1"))
    _wait(cluster, "web", _rolled_out(0))
    latencies = []
    for _ in range(3):
        started = time.monotonic()
        _scale(cluster, "web", 1)

        def answering() -> bool:
            for pod in _pods(cluster, "web"):
                ip = (pod.get("status") or {}).get("podIP")
                if ip and fetch(f"http://{ip}:8080/", timeout=0.5)[0] == 200:
                    return True
            return False

        wait_for(answering, 5, message="the new pod answers")
        latencies.append(time.monotonic() - started)
        _scale(cluster, "web", 0)
        wait_for(lambda: _pods(cluster, "web", terminating=True) == [], 10)
    print(f"scale-up to HTTP answer: {[round(x, 3) for x in latencies]} s")
    assert statistics.median(latencies) < 1.0, latencies


def test_deleting_the_deployment_stops_its_pods_gracefully(
    cluster: EmulatedCluster, deployments: DeploymentController, kubelet: Kubelet
) -> None:
    cluster.create(deployment("web", replicas=2))
    _wait(cluster, "web", _rolled_out(2))
    names = [p["metadata"]["name"] for p in _pods(cluster, "web")]
    cluster.delete(*DEPLOYMENTS, "default", "web")
    marked = [get_pod(cluster, name) for name in names]  # garbage collection, graceful
    assert all(p is None or p["metadata"].get("deletionTimestamp") for p in marked)
    wait_for(lambda: _pods(cluster, "web", terminating=True) == [], 10, message="pods gone")
    history = cluster.history(*PODS, "default", names[0])
    assert "terminated" in history[-1]["status"]["containerStatuses"][0]["state"]


def test_min_ready_seconds_delay_availability(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    cluster.create(deployment("web", replicas=1, minReadySeconds=2))
    ready = _wait(cluster, "web", lambda d: d.get("status", {}).get("readyReplicas") == 1)
    became_ready = time.monotonic()
    assert "availableReplicas" not in ready["status"]
    _wait(cluster, "web", _rolled_out(1), timeout=5)
    assert time.monotonic() - became_ready >= 1.0  # timestamps have whole seconds


def test_a_paused_deployment_keeps_its_pods_until_resumed(
    cluster: EmulatedCluster, deployments: DeploymentController
) -> None:
    cluster.create(deployment("web", replicas=1))
    _wait(cluster, "web", _rolled_out(1))
    (old,) = _pods(cluster, "web")
    patch: Obj = {
        "spec": {
            "paused": True,
            "template": {"metadata": {"annotations": {"example.com/rev": "2"}}},
        }
    }
    cluster.patch(*DEPLOYMENTS, "default", "web", patch)
    paused = _wait(
        cluster,
        "web",
        lambda d: _conditions(d).get("Progressing", {}).get("reason") == "DeploymentPaused",
    )
    assert paused["status"].get("updatedReplicas") is None
    assert [p["metadata"]["uid"] for p in _pods(cluster, "web")] == [old["metadata"]["uid"]]
    cluster.patch(*DEPLOYMENTS, "default", "web", {"spec": {"paused": False}})
    _wait(cluster, "web", lambda d: _rolled_out(1)(d) and d["status"]["observedGeneration"] == 3)
    (new,) = _pods(cluster, "web")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_kubectl_rollout_status_and_logs(
    cluster: EmulatedCluster, deployments: DeploymentController, kubelet: Kubelet
) -> None:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig_path)}
    env["HOME"] = str(cluster.kubeconfig_path.parent)  # a private discovery cache

    def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", *args], env=env, capture_output=True, text=True, timeout=60, check=check
        )

    cluster.create(deployment("web", replicas=2))
    done = kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert "successfully rolled out" in done.stdout
    kubectl("scale", "deployment/web", "--replicas=3")
    assert "successfully rolled out" in kubectl("rollout", "status", "deployment/web").stdout
    (name, *_) = [p["metadata"]["name"] for p in _pods(cluster, "web")]
    wait_for(lambda: "listening" in kubectl("logs", name).stdout, 5, message="kubectl logs")

    cluster.create(deployment("stuck", image="nowhere/nothing:1", progressDeadlineSeconds=2))
    failed = kubectl("rollout", "status", "deployment/stuck", "--timeout=30s", check=False)
    assert failed.returncode != 0
    assert "exceeded its progress deadline" in failed.stderr
