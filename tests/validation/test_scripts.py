"""The shell scripts of the project are shellcheck-clean, and the tool fetcher is idempotent."""

from __future__ import annotations

import pathlib
import shutil
import time

import pytest

from tests.validation import tools

SCRIPTS = [*sorted((tools.ROOT / "scripts").glob("*.sh")), tools.ROOT / ".ci" / "run"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_clean(script: pathlib.Path) -> None:
    result = tools.run("shellcheck", "--severity=style", script)
    assert result.returncode == 0, result.output


def test_shellcheck_refuses_a_broken_script(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.sh"
    broken.write_text("#!/usr/bin/env bash\nfor f in $(ls *.yaml); do rm $f; done\ncd $HOME\n")
    result = tools.run("shellcheck", broken)
    assert result.returncode != 0
    for code in ("SC2045", "SC2086", "SC2164"):
        assert code in result.output, result.output


def test_fetch_tools_is_idempotent() -> None:
    """Once the tools are there (`make validate` fetched them), a second run does nothing."""
    tools.find("helm")
    started = time.monotonic()
    result = tools.run("bash", "scripts/fetch-tools.sh")
    assert result.returncode == 0, result.output
    assert result.output == ""
    assert time.monotonic() - started < 2


def test_fetch_tools_checks_cached_binaries_every_time(tmp_path: pathlib.Path) -> None:
    """A cached helm that is not the pinned binary (a poisoned CI cache) is refused, not run:
    a copy of the script works on a copy of `.tools` whose helm was altered."""
    tools.find("helm")
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(tools.ROOT / "scripts" / "fetch-tools.sh", root / "scripts")
    shutil.copytree(tools.ROOT / ".tools", root / ".tools")
    good = tools.run("bash", root / "scripts" / "fetch-tools.sh")
    assert good.returncode == 0 and good.output == "", good.output
    helm = root / ".tools" / "bin" / "helm"
    helm.write_bytes(helm.read_bytes() + b"\0")
    bad = tools.run("bash", root / "scripts" / "fetch-tools.sh")
    assert bad.returncode != 0
    assert "does not match its pinned SHA-256" in bad.output
