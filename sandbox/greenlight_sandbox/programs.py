"""The project's own programs against the sandbox: the real operator, and the CLI as users run it.

Both run as separate processes against the sandbox's kubeconfig, exactly as they would against
a cluster from a laptop: the operator with `kopf run` (probing through the API server's service
proxy, since it runs outside the cluster), the CLI with its ordinary flags.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping

# Variables that would point a child at a real cluster instead of the sandbox.
_CLUSTER_VARIABLES = ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


def child_env(kubeconfig: pathlib.Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, pointed at the sandbox's kubeconfig and nothing else."""
    env = {key: value for key, value in os.environ.items() if key not in _CLUSTER_VARIABLES}
    env["KUBECONFIG"] = str(kubeconfig)
    env.update(extra or {})
    return env


def stop(process: subprocess.Popen[bytes], grace_seconds: float = 10.0) -> None:
    """SIGTERM the process's group, then SIGKILL what is left after ``grace_seconds``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def operator_process(
    kubeconfig: pathlib.Path,
    log: pathlib.Path,
    *,
    tick_seconds: float = 0.2,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """The real operator (`kopf run --standalone -A -m greenlight.main`), its output in ``log``.

    A short tick makes the sandbox's figures about the operator's reactions, not its polling.
    """
    settings = {
        "GREENLIGHT_PROBE_VIA": "apiserver",  # outside the cluster: no Service DNS
        "GREENLIGHT_METRICS_PORT": "0",  # any free port: several may run side by side
        "GREENLIGHT_TICK_SECONDS": f"{tick_seconds:g}",
        **(env or {}),
    }
    command = [sys.executable, "-m", "kopf", "run", "--standalone", "-A", "-m", "greenlight.main"]
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command,
            env=child_env(kubeconfig, settings),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the sandbox, which stops it in order
        )
    try:
        yield process
    finally:
        stop(process)


def greenlight_cli(
    kubeconfig: pathlib.Path, args: list[str], *, timeout: float = 120.0, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``greenlight <args>`` against the sandbox; its output goes to the terminal."""
    return subprocess.run(
        [sys.executable, "-m", "greenlight.cli", *args],
        env=child_env(kubeconfig),
        timeout=timeout,
        check=False,
        text=True,
        capture_output=capture,
    )
