"""`python -m greenlight_sandbox up` (what `make sandbox` runs): a SIGTERM or a Ctrl-C stops
every process it started, the operator and every pod included."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import urllib.request

import pytest
import yaml

from greenlight_sandbox.emulator import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pod_processes(kubeconfig: pathlib.Path) -> list[int]:
    """The process of every pod, from the containerID the kubelet writes (sandbox://<pid>)."""
    config = yaml.safe_load(kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    token = config["users"][0]["user"]["token"]
    request = urllib.request.Request(
        f"{server}/api/v1/pods", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        pods = json.load(answer)["items"]
    return [
        int(status["containerID"].removeprefix("sandbox://"))
        for pod in pods
        for status in (pod.get("status") or {}).get("containerStatuses") or []
        if str(status.get("containerID", "")).startswith("sandbox://")
    ]


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has ended: only its parent has not reaped it)."""
    running = []
    for pid in pids:
        try:
            state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.append(pid)
    return running


def processes_using(kubeconfig: pathlib.Path) -> list[int]:
    """The live processes whose environment points at this sandbox (the operator, the pods)."""
    marker = f"KUBECONFIG={kubeconfig}".encode()
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":  # a zombie has ended; only its parent has not reaped it
                    found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_everything_the_sandbox_started(
    tmp_path: pathlib.Path, signum: signal.Signals
) -> None:
    workdir = tmp_path / "sandbox"
    kubeconfig = (workdir / "kubeconfig").resolve()
    log = tmp_path / "up.log"
    with log.open("wb") as sink:
        up = subprocess.Popen(
            [sys.executable, "-m", "greenlight_sandbox", "--workdir", str(workdir), "up"],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "Ctrl-C stops" in log.read_text() or up.poll() is not None, timeout=90)
        assert up.poll() is None, log.read_text()
        operator = processes_using(kubeconfig)
        pods = pod_processes(kubeconfig)
        assert len(operator) == 1
        assert pods  # the API service's pod at least
        up.send_signal(signum)
        assert up.wait(60) == 130
        assert alive(operator + pods) == []
        assert "every process the sandbox started has been stopped" in log.read_text()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
