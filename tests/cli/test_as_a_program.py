"""The installed `greenlight` program in its own process, as a pipeline or a person runs it."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from tests.cli.conftest import (
    NAMESPACE,
    VERIFYING,
    create_release,
    program,
    program_env,
    run_program,
    set_status,
    watch_started,
)
from tests.cli.test_bad_input import closed_port
from tests.cli.test_following import PROGRESSING


class RunningProgram:
    """A `greenlight` process whose stdout lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*program(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=program_env(),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n").split("] ", 1)[-1])

    def finish(self, timeout: float = 15) -> tuple[int, str]:
        try:
            self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout)
        assert self.process.stderr is not None
        stderr = self.process.stderr.read()
        self.process.stdout.close()  # type: ignore[union-attr]
        self.process.stderr.close()
        return self.process.returncode, stderr


def test_status_with_the_options_after_the_subcommand(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=VERIFYING)

    done = run_program(
        "status", "web", "-n", NAMESPACE, "--kubeconfig", str(cluster.kubeconfig_path)
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Release shop/web  Verifying"
    assert done.stderr == ""


def test_an_unreachable_cluster_is_one_line_without_a_traceback(tmp_path: pathlib.Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{closed_port()}'}}}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: me}}]\n"
        "users: [{name: me, user: {token: t}}]\n"
    )

    done = run_program("wait", "web", "--kubeconfig", str(kubeconfig))

    assert done.returncode == 3
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("error: cannot reach the cluster at http://127.0.0.1:")


def test_wait_in_a_pipeline_prints_lines_as_the_release_moves(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)
    kubeconfig = str(cluster.kubeconfig_path)

    waiting = RunningProgram("--kubeconfig", kubeconfig, "wait", "web", "-n", NAMESPACE)
    wait_for(lambda: watch_started(cluster), timeout=15)
    set_status(cluster, phase="Verifying", message="probing", gates=VERIFYING["gates"])
    wait_for(lambda: len(waiting.lines) == 2, timeout=15)
    set_status(cluster, phase="RolledBack", message="gate readyz failed 3 times")
    returncode, stderr = waiting.finish()

    assert returncode == 1
    assert waiting.lines == [
        "shop/web Progressing revision 2 (green): green is rolling out revision 2: 1/2 ready",
        "shop/web Verifying revision 2 (green) gates readyz 2/3: probing",
        "shop/web RolledBack revision 2 (green) gates readyz 2/3: gate readyz failed 3 times",
    ]
    assert stderr == ("release shop/web: RolledBack (revision 2): gate readyz failed 3 times\n")


def test_status_watch_follows_until_interrupted(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)
    kubeconfig = str(cluster.kubeconfig_path)

    watching = RunningProgram("status", "web", "-w", "-n", NAMESPACE, "--kubeconfig", kubeconfig)
    wait_for(lambda: watch_started(cluster), timeout=15)
    set_status(cluster, phase="Succeeded", message="revision 2 serves", gates=[])
    wait_for(lambda: len(watching.lines) == 2, timeout=15)
    watching.process.send_signal(signal.SIGINT)
    returncode, stderr = watching.finish()

    assert watching.lines[-1] == "shop/web Succeeded revision 2 (green): revision 2 serves"
    assert returncode == 130
    assert stderr.strip() == "interrupted"


def test_as_a_kubectl_plugin_it_names_itself_so() -> None:
    plugin = shutil.which("kubectl-greenlight", path=os.path.dirname(sys.executable))
    if plugin is None:
        pytest.skip("the console scripts are not installed (pip install -e .)")

    done = subprocess.run(
        [plugin, "status"], capture_output=True, text=True, env=program_env(), check=False
    )

    assert done.returncode == 4
    assert done.stderr.startswith("Usage: kubectl greenlight status [OPTIONS] NAME")
