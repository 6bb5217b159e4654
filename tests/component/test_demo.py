"""`make demo` (the README's first command) keeps working: three releases, the last rolled back."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_demo_runs_three_releases_and_rolls_the_last_back() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout + done.stderr  # `greenlight wait` reports a failed release on stderr
    assert "revision 1 succeeded" in out
    assert "revision 2 succeeded" in out
    assert "RolledBack (revision 3)" in out
    assert "greenlight wait exited 1" in out
    assert "Traceback" not in out
