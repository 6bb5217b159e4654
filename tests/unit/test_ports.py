"""A taken metrics or liveness port ends `kopf run` with one line naming the port and the
setting that moves it, exit code 2, and no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from greenlight import ports


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process (here, this one) listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))  # noqa: S104 - as the operator binds
        holder.listen()
        yield holder.getsockname()[1]


def _kopf_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    kopf = os.path.join(os.path.dirname(sys.executable), "kopf")
    return subprocess.run(
        [kopf, "run", "--standalone", "-A", "-m", "greenlight.main", *args],
        env={**os.environ, "KUBECONFIG": os.devnull, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_taken_metrics_port_is_one_line(held_port: int) -> None:
    done = _kopf_run(GREENLIGHT_METRICS_PORT=str(held_port))
    assert done.returncode == ports.EXIT_PORT_TAKEN, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("greenlight:")]
    assert f"port {held_port} is taken" in line
    assert "GREENLIGHT_METRICS_PORT" in line and "operator.metrics.port" in line


def test_a_taken_liveness_port_is_one_line(held_port: int) -> None:
    done = _kopf_run(f"--liveness=http://0.0.0.0:{held_port}/healthz", GREENLIGHT_METRICS_PORT="0")
    assert done.returncode == ports.EXIT_PORT_TAKEN, done.stderr
    assert "Traceback" not in done.stderr
    assert f"port {held_port} is taken" in done.stderr
    assert "--liveness" in done.stderr and "operator.liveness.port" in done.stderr


def test_the_liveness_port_of_the_command_line() -> None:
    assert ports.liveness_port(["kopf", "run", "--liveness=http://0.0.0.0:8080/healthz"]) == 8080
    assert ports.liveness_port(["kopf", "run", "--liveness", "http://h:81/x"]) == 81
    assert ports.liveness_port(["kopf", "run", "-A"]) is None


def test_a_free_port_passes() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert ports.taken(free) is None
    ports.exit_if_taken([(free, "X"), (0, "off")])
