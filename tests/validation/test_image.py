"""The Dockerfile is hadolint-clean and builds what the issue asks; the lock file is current."""

from __future__ import annotations

import pathlib
import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.validation import tools

DOCKERFILE = tools.ROOT / "Dockerfile"
BROKEN = pathlib.Path(__file__).parent / "broken"


def test_hadolint_clean() -> None:
    result = tools.run("hadolint", DOCKERFILE)
    assert result.returncode == 0, result.output


def test_hadolint_refuses_a_broken_dockerfile() -> None:
    result = tools.run("hadolint", BROKEN / "Dockerfile")
    assert result.returncode != 0
    for rule in ("DL3006", "DL3008", "DL3013", "DL3042", "DL3003", "DL3002"):
        assert rule in result.output, result.output


def _stages() -> dict[str, list[str]]:
    """Instructions of each stage, by stage name."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", stripped, re.IGNORECASE)
        if match:
            current = stages.setdefault(match.group(1), [])
        current.append(stripped)
    return stages


def test_stages_and_targets() -> None:
    stages = _stages()
    assert list(stages) == ["builder", "runtime", "operator", "api", "sample"]
    first = DOCKERFILE.read_text().split("FROM", 1)[0]
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", first, re.MULTILINE)
    assert all(
        s[0].startswith("FROM ${PYTHON_IMAGE}") for s in (stages["builder"], stages["runtime"])
    )
    assert stages["operator"][0] == "FROM runtime AS operator"
    assert stages["api"][0] == "FROM runtime AS api"
    assert stages["sample"][0] == "FROM runtime AS sample"


def test_dependencies_come_from_the_lock_in_the_builder() -> None:
    builder = "\n".join(_stages()["builder"])
    assert "--require-hashes" in builder and "-r requirements.lock" in builder
    runtime = "\n".join(_stages()["runtime"])
    assert "COPY --from=builder /opt/greenlight /opt/greenlight" in runtime
    assert "pip uninstall" in runtime, "no package tools left in the final images"
    assert not re.search(r"\b(apt-get install|gcc|build-essential)\b", runtime)


def test_runs_as_a_numeric_non_root_user() -> None:
    runtime = _stages()["runtime"]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users == ["10001:10001"]
    for target in ("operator", "api", "sample"):
        assert not any(line.startswith("USER ") for line in _stages()[target])


def test_entrypoints_and_labels() -> None:
    operator = "\n".join(_stages()["operator"])
    assert 'ENTRYPOINT ["kopf"]' in operator
    assert '"--standalone", "--all-namespaces", "--module=greenlight.main"' in operator
    api = "\n".join(_stages()["api"])
    assert 'ENTRYPOINT ["uvicorn"]' in api
    assert '"greenlight_api.main:app", "--host", "0.0.0.0", "--port", "8000"' in api
    sample = "\n".join(_stages()["sample"])
    assert '"python", "-m", "greenlight_sample", "--host", "0.0.0.0", "--port", "8080"' in sample
    assert "import greenlight.main, greenlight_api.main, greenlight_sample.main" in "\n".join(
        _stages()["builder"]
    )
    labels = "\n".join(_stages()["runtime"])
    for label in ("title", "version", "revision", "source", "created", "licenses"):
        assert f"org.opencontainers.image.{label}=" in labels


def test_dockerignore_is_an_allow_list() -> None:
    lines = (tools.ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    allowed = {line[1:].rstrip("/") for line in rules if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "README.md",
        "requirements.lock",
        "operator",
        "service",
        "sandbox/greenlight_sample",
    }


def _locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of requirements.lock."""
    text = (tools.ROOT / "requirements.lock").read_text()
    locked: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)", block)
        if match:
            name = canonicalize_name(match.group(1).split("[")[0])
            locked[name] = (match.group(2), re.findall(r"--hash=sha256:[0-9a-f]{64}", block))
    return locked


def test_lock_covers_pyproject_and_pins_every_hash() -> None:
    project = tomllib.loads((tools.ROOT / "pyproject.toml").read_text())["project"]
    locked = _locked()
    assert locked, "requirements.lock is empty"
    stale = []
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        pin = locked.get(canonicalize_name(requirement.name))
        if pin is None or not requirement.specifier.contains(pin[0], prereleases=True):
            stale.append(spec)
    assert stale == [], "run `make lock`: requirements.lock does not satisfy pyproject.toml"
    assert [name for name, (_, hashes) in locked.items() if not hashes] == []
