"""Runs the external validators (helm, kubectl, kubernetes-validate, check-jsonschema, hadolint).

Each is looked up in `.tools/bin` (where `make tools` puts helm and kubectl), then next to the
running Python (the venv's console scripts), then on PATH. A missing tool skips the test with a
one-line reason on a developer's machine, and fails it under CI (`CI` set): a check that
silently did not run is no check.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
CHART = ROOT / "charts" / "greenlight"
# The namespace every scenario is rendered into (the namespaced scenario lists it).
NAMESPACE = "greenlight-system"
KUBERNETES_VERSION = "1.34.0"


@dataclasses.dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def find(name: str) -> str:
    """The path of a tool, or a skip (a failure under CI) naming how to get it."""
    for folder in (TOOLS_BIN, pathlib.Path(sys.executable).parent):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} not found: run `make validate` (it fetches and installs the tools)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def run(name: str, *args: str | pathlib.Path, stdin: str | None = None) -> Result:
    """Runs a tool from the repository root and returns what it said (never raises on failure)."""
    done = subprocess.run(
        [find(name), *map(str, args)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)
