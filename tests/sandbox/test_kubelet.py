"""The sandbox's kubelet: pods as local processes, probes, restarts, graceful termination."""

from __future__ import annotations

import ipaddress
import os
import pathlib
import signal
import socket
import time

import kubernetes.client
import pytest

from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from greenlight_sandbox.kubelet import Kubelet
from tests.sandbox.conftest import TEST_IMAGES
from tests.sandbox.helpers import (
    PODS,
    condition,
    container_status,
    fetch,
    fetch_json,
    get_pod,
    http_probe,
    is_ready,
    pod,
    wait_pod,
)


def _running(pod_obj: dict[str, object]) -> bool:
    return "running" in container_status(pod_obj).get("state", {})


def _log(kubelet: Kubelet, name: str) -> str:
    path = kubelet.log_dir / f"default_{name}_app.log"
    return path.read_text() if path.exists() else ""


def _listening(kubelet: Kubelet, name: str) -> None:
    """Wait until the application has started (before that, SIGTERM would simply kill it)."""
    wait_for(lambda: "listening on" in _log(kubelet, name), 5, message=f"{name} listening")


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (whoever adopted an orphan may reap it late)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def test_a_pod_runs_becomes_ready_and_answers_on_its_own_address(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    body = pod(
        "web",
        env={"GREETING": "hello", "SHOUT": "$(GREETING)!"},
        args=["--greeting", "$(SHOUT)"],
        readinessProbe=http_probe("/readyz"),
    )
    body["spec"]["containers"][0]["env"] += [
        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "MY_APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    cluster.create(body)
    ready = wait_pod(cluster, "web", is_ready)

    status = ready["status"]
    ip = status["podIP"]
    assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("127.0.0.0/16")
    assert not ip.startswith("127.0.0.")
    assert status["podIPs"] == [{"ip": ip}]
    assert status["hostIP"] == "127.0.0.1"
    assert status["phase"] == "Running"
    assert status["startTime"]
    assert ready["spec"]["nodeName"] == "sandbox"
    assert [c["type"] for c in status["conditions"]] == [
        "PodScheduled",
        "Initialized",
        "ContainersReady",
        "Ready",
    ]
    assert all(c["status"] == "True" and c["lastTransitionTime"] for c in status["conditions"])
    container = container_status(ready)
    assert container["name"] == "app" and container["image"] == "test/http:1"
    assert container["ready"] is True and container["started"] is True
    assert container["restartCount"] == 0
    assert container["state"]["running"]["startedAt"]
    assert container["containerID"] == f"sandbox://{kubelet.pid_of('default', 'web')}"

    answer = fetch_json(f"http://{ip}:8080/")
    assert answer["hostname"] == "web"
    assert answer["greeting"] == "hello!"  # $(VAR) expanded in env values and in args
    env = fetch_json(f"http://{ip}:8080/env")
    assert env["KUBECONFIG"] == str(cluster.kubeconfig_path)
    assert env["HOSTNAME"] == "web"
    assert (env["MY_NAME"], env["MY_NS"], env["MY_APP"], env["MY_IP"]) == (
        "web",
        "default",
        "web",
        ip,
    )
    assert "listening on" in _log(kubelet, "web")


def test_the_status_is_written_only_when_it_changes(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    cluster.create(pod("web", readinessProbe=http_probe("/readyz")))
    ip = wait_pod(cluster, "web", is_ready)["status"]["podIP"]
    versions = len(cluster.history(*PODS, "default", "web"))
    probed = fetch_json(f"http://{ip}:8080/probed")["/readyz"]
    # Two more probes with the same answer: no new version of the pod.
    wait_for(lambda: fetch_json(f"http://{ip}:8080/probed")["/readyz"] >= probed + 2, 5)
    assert len(cluster.history(*PODS, "default", "web")) == versions


def test_readiness_follows_the_probe(cluster: EmulatedCluster, kubelet: Kubelet) -> None:
    cluster.create(pod("web", readinessProbe=http_probe("/readyz", failureThreshold=1)))
    ip = wait_pod(cluster, "web", is_ready)["status"]["podIP"]
    fetch(f"http://{ip}:8080/control?ready=0")
    unready = wait_pod(cluster, "web", lambda p: condition(p, "Ready") == "False")
    assert condition(unready, "ContainersReady") == "False"
    assert container_status(unready)["ready"] is False
    assert unready["status"]["phase"] == "Running"
    fetch(f"http://{ip}:8080/control?ready=1")
    wait_pod(cluster, "web", is_ready)


def test_a_failing_liveness_probe_restarts_the_container(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    liveness = http_probe("/healthz", failureThreshold=1, initialDelaySeconds=1)
    cluster.create(pod("web", livenessProbe=liveness))
    ip = wait_pod(cluster, "web", _running)["status"]["podIP"]
    _listening(kubelet, "web")
    first_pid = kubelet.pid_of("default", "web")
    fetch(f"http://{ip}:8080/control?live=0")
    restarted = wait_pod(
        cluster, "web", lambda p: container_status(p).get("restartCount") == 1 and _running(p)
    )
    assert kubelet.pid_of("default", "web") != first_pid
    assert container_status(restarted)["lastState"]["terminated"]["exitCode"] == 0  # SIGTERM
    wait_for(lambda: fetch(f"http://{ip}:8080/healthz")[0] == 200, 5)  # a fresh process


def test_a_crashing_container_restarts_with_a_doubling_back_off(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    created = time.monotonic()
    cluster.create(pod("web", env={"EXIT_AT_START": "3"}))
    wait_pod(cluster, "web", lambda p: container_status(p).get("restartCount") == 2, 15)
    elapsed = time.monotonic() - created
    assert elapsed >= 2.8  # back-off of 1 s, then 2 s
    crashing = wait_pod(
        cluster,
        "web",
        lambda p: "waiting" in container_status(p).get("state", {}),
        message="back in back-off after the third crash",
    )
    container = container_status(crashing)
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 3
    assert container["lastState"]["terminated"]["reason"] == "Error"
    assert crashing["status"]["phase"] == "Running"
    assert not is_ready(crashing)
    messages = [
        container_status(version).get("state", {}).get("waiting", {}).get("message", "")
        for version in cluster.history(*PODS, "default", "web")
    ]
    back_offs = [m.split()[1] for m in messages if m.startswith("back-off")]
    assert back_offs[:3] == ["1s", "2s", "4s"]


def test_a_killed_process_is_restarted(cluster: EmulatedCluster, kubelet: Kubelet) -> None:
    cluster.create(pod("web", readinessProbe=http_probe("/readyz")))
    wait_pod(cluster, "web", is_ready)
    pid = kubelet.pid_of("default", "web")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    restarted = wait_pod(
        cluster, "web", lambda p: container_status(p).get("restartCount") == 1 and is_ready(p)
    )
    assert container_status(restarted)["lastState"]["terminated"]["exitCode"] == 137
    assert kubelet.pid_of("default", "web") not in (None, pid)


def test_deletion_stops_the_process_and_removes_the_pod(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    cluster.create(pod("web", readinessProbe=http_probe("/readyz")))
    ip = wait_pod(cluster, "web", is_ready)["status"]["podIP"]
    pid = kubelet.pid_of("default", "web")
    assert pid is not None
    started = time.monotonic()
    cluster.delete(*PODS, "default", "web")
    wait_for(lambda: get_pod(cluster, "web") is None, 5, message="pod deleted by the kubelet")
    assert time.monotonic() - started < 5  # on SIGTERM at once, not after the 30 s grace
    assert _gone(pid)
    final = cluster.history(*PODS, "default", "web")[-1]
    terminated = container_status(final)["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    assert final["status"]["phase"] == "Succeeded"
    assert ip not in kubelet.pod_addresses  # the address is free again


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    cluster.create(pod("web", env={"IGNORE_SIGTERM": "1"}, grace=3))
    wait_pod(cluster, "web", _running)
    _listening(kubelet, "web")
    pid = kubelet.pid_of("default", "web")
    assert pid is not None
    started = time.monotonic()
    cluster.delete(*PODS, "default", "web")
    held = get_pod(cluster, "web")
    assert held is not None and held["metadata"]["deletionGracePeriodSeconds"] == 3
    wait_for(lambda: "SIGTERM" in _log(kubelet, "web"), 2, message="SIGTERM delivered")
    wait_for(lambda: get_pod(cluster, "web") is None, 8, message="pod deleted by the kubelet")
    elapsed = time.monotonic() - started
    assert 2.9 <= elapsed < 10, elapsed  # killed after its 3 s, long before the default 30
    assert _gone(pid)
    final = cluster.history(*PODS, "default", "web")[-1]
    assert container_status(final)["state"]["terminated"]["exitCode"] == 137
    assert final["status"]["phase"] == "Failed"


def test_a_pre_stop_sleep_delays_sigterm(cluster: EmulatedCluster, kubelet: Kubelet) -> None:
    cluster.create(pod("web", grace=10, lifecycle={"preStop": {"sleep": {"seconds": 2}}}))
    wait_pod(cluster, "web", _running)
    _listening(kubelet, "web")
    deleted_at = time.time()
    cluster.delete(*PODS, "default", "web")
    wait_for(lambda: get_pod(cluster, "web") is None, 8, message="pod deleted by the kubelet")
    sigterm_lines = [line for line in _log(kubelet, "web").splitlines() if "SIGTERM" in line]
    assert len(sigterm_lines) == 1
    delay = float(sigterm_lines[0].split()[1]) - deleted_at
    assert 1.9 <= delay < 6, delay


def test_a_pre_stop_command_runs_as_a_local_process(
    cluster: EmulatedCluster, kubelet: Kubelet, tmp_path: pathlib.Path
) -> None:
    marker = tmp_path / "pre-stop-ran"
    command = ["python3", "-c", f"open({str(marker)!r}, 'w').write('$(HOSTNAME)')"]
    cluster.create(pod("web", lifecycle={"preStop": {"exec": {"command": command}}}))
    wait_pod(cluster, "web", _running)
    cluster.delete(*PODS, "default", "web")
    wait_for(lambda: get_pod(cluster, "web") is None, 8, message="pod deleted by the kubelet")
    assert marker.read_text() == "$(HOSTNAME)"  # exec commands are not expanded


def test_an_unmapped_image_waits_in_err_image_pull_without_a_process(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    cluster.create(pod("web", image="nginx:1.27"))
    waiting = wait_pod(
        cluster,
        "web",
        lambda p: (
            container_status(p).get("state", {}).get("waiting", {}).get("reason") == "ErrImagePull"
        ),
    )
    message = container_status(waiting)["state"]["waiting"]["message"]
    assert "'nginx:1.27'" in message and str(TEST_IMAGES) in message
    assert waiting["status"]["phase"] == "Pending"
    assert kubelet.started_pids == []
    cluster.delete(*PODS, "default", "web")
    wait_for(lambda: get_pod(cluster, "web") is None, 5, message="pod deleted by the kubelet")


@pytest.mark.parametrize(
    ("container", "complaint"),
    [
        (
            {"env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
            "'TOKEN'",
        ),
        ({"envFrom": [{"configMapRef": {"name": "settings"}}]}, "envFrom"),
        ({"command": ["/bin/sh", "-c", "sleep 1"]}, "'/bin/sh'"),
    ],
)
def test_what_the_sandbox_cannot_run_is_a_create_container_config_error(
    cluster: EmulatedCluster, kubelet: Kubelet, container: dict[str, object], complaint: str
) -> None:
    body = pod("web")
    body["spec"]["containers"][0].update(container)
    cluster.create(body)
    waiting = wait_pod(
        cluster,
        "web",
        lambda p: (
            container_status(p).get("state", {}).get("waiting", {}).get("reason")
            == "CreateContainerConfigError"
        ),
    )
    assert complaint in container_status(waiting)["state"]["waiting"]["message"]
    assert kubelet.started_pids == []


def test_a_container_that_must_not_restart_ends_the_pod(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    body = pod("job", env={"EXIT_AT_START": "0"})
    body["spec"]["restartPolicy"] = "Never"
    cluster.create(body)
    ended = wait_pod(cluster, "job", lambda p: p.get("status", {}).get("phase") == "Succeeded")
    terminated = container_status(ended)["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    assert container_status(ended)["restartCount"] == 0


def test_readiness_gates_hold_ready_until_their_condition_is_true(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    body = pod("web")
    body["spec"]["readinessGates"] = [{"conditionType": "example.com/warm"}]
    cluster.create(body)
    held = wait_pod(cluster, "web", lambda p: condition(p, "ContainersReady") == "True")
    assert condition(held, "Ready") == "False"
    gate = {"type": "example.com/warm", "status": "True", "lastTransitionTime": None}
    conditions = [*held["status"]["conditions"], gate]
    cluster.patch(*PODS, "default", "web", {"status": {"conditions": conditions}}, "status")
    ready = wait_pod(cluster, "web", is_ready)
    assert condition(ready, "example.com/warm") == "True"  # kept by the kubelet's writes


def test_a_pod_removed_without_grace_loses_its_process(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    cluster.create(pod("web"))
    wait_pod(cluster, "web", _running)
    pid = kubelet.pid_of("default", "web")
    assert pid is not None
    cluster.delete(*PODS, "default", "web", grace_period_seconds=0)
    assert get_pod(cluster, "web") is None
    wait_for(lambda: _gone(pid), 5, message="process stopped")


def test_stopping_the_kubelet_stops_every_process(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    cluster.create(pod("stubborn", env={"IGNORE_SIGTERM": "1"}))
    cluster.create(pod("polite", image="test/static:1"))
    wait_pod(cluster, "stubborn", _running)
    _listening(kubelet, "stubborn")
    wait_pod(cluster, "polite", _running)
    pids = list(kubelet.started_pids)
    assert len(pids) == 2
    kubelet.stop()
    assert all(_gone(pid) for pid in pids)


def test_kubectl_logs_reads_the_container_log(cluster: EmulatedCluster, kubelet: Kubelet) -> None:
    cluster.create(pod("web"))
    wait_pod(cluster, "web", _running)
    _listening(kubelet, "web")
    with cluster.api_client() as api:
        core = kubernetes.client.CoreV1Api(api)
        text = core.read_namespaced_pod_log("web", "default", container="app")
        assert text.startswith("listening on ")
        assert core.read_namespaced_pod_log("web", "default", tail_lines=0) == ""
        with pytest.raises(kubernetes.client.ApiException) as error:
            core.read_namespaced_pod_log("web", "default", container="other")
        assert error.value.status == 400


def test_the_whole_process_group_stops_with_the_pod(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    cluster.create(pod("web", env={"SPAWN_CHILD": "1"}))
    wait_pod(cluster, "web", _running)
    _listening(kubelet, "web")
    child = int(
        next(line for line in _log(kubelet, "web").splitlines() if "child" in line).split()[1]
    )
    assert not _gone(child)
    cluster.delete(*PODS, "default", "web")
    wait_for(lambda: get_pod(cluster, "web") is None, 5, message="pod deleted by the kubelet")
    wait_for(lambda: _gone(child), 5, message="the container's child process stopped")


def test_startup_tcp_and_exec_probes(cluster: EmulatedCluster, kubelet: Kubelet) -> None:
    startup = {"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 10}
    readiness = {"exec": {"command": ["python3", "-c", "raise SystemExit(0)"]}, "periodSeconds": 1}
    cluster.create(pod("web", startupProbe=startup, readinessProbe=readiness))
    ready = wait_pod(cluster, "web", is_ready)
    assert container_status(ready)["started"] is True

    failing = {"exec": {"command": ["python3", "-c", "raise SystemExit(1)"]}, "periodSeconds": 1}
    cluster.create(pod("sick", livenessProbe={**failing, "failureThreshold": 1}))
    wait_pod(cluster, "sick", lambda p: container_status(p).get("restartCount", 0) >= 1)


def test_an_address_already_in_use_on_this_machine_is_skipped(
    cluster: EmulatedCluster, kubelet: Kubelet
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            squatter.bind(("127.0.1.1", 8080))  # the pool's first address
            squatter.listen()
        except OSError:
            pass  # something on this machine holds it already: just as good
        cluster.create(pod("web", readinessProbe=http_probe("/readyz")))
        ip = wait_pod(cluster, "web", is_ready)["status"]["podIP"]
        assert ip != "127.0.1.1"
        assert fetch_json(f"http://{ip}:8080/")["hostname"] == "web"
