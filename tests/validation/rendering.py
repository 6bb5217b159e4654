"""Renders the chart and the manifests into Python objects, for the checks to look at."""

from __future__ import annotations

import functools
import pathlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import yaml

from tests.validation import tools

Doc = dict[str, Any]

# Kinds of CRDs the chart does not install (the Prometheus Operator's): rendering as if the
# cluster served them shows everything. The chart's own CRDs (its `crds/` folders) need no
# such flag: Helm installs them before it renders the templates.
SERVED = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
)

SCENARIOS = sorted(p.name for p in (tools.CHART / "ci").glob("*-values.yaml"))

# The values every install must give (the image repositories have no default); rendered first,
# so that a scenario's own values win.
REQUIRED_VALUES = tools.CHART / "ci" / "default-values.yaml"


def scenario(name: str) -> pathlib.Path:
    return tools.CHART / "ci" / name


def template_text(
    *values_files: pathlib.Path,
    sets: tuple[str, ...] = (),
    served: bool = True,
    required: bool = True,
) -> tools.Result:
    """`helm template` with the chart's CRDs (`--include-crds`); `required=False` leaves out
    the required values."""
    args: list[str | pathlib.Path] = ["template", "greenlight", tools.CHART, "--include-crds"]
    args += ["--namespace", tools.NAMESPACE, "--kube-version", tools.KUBERNETES_VERSION]
    for path in (REQUIRED_VALUES, *values_files) if required else values_files:
        args += ["--values", path]
    for assignment in sets:
        args += ["--set", assignment]
    if served:
        for api in SERVED:
            args += ["--api-versions", api]
    return tools.run("helm", *args)


@functools.cache
def _rendered(values_files: tuple[pathlib.Path, ...], sets: tuple[str, ...], served: bool) -> str:
    result = template_text(*values_files, sets=sets, served=served)
    assert result.returncode == 0, result.output
    return result.stdout


def render(
    *values_files: pathlib.Path, sets: tuple[str, ...] = (), served: bool = True
) -> list[Doc]:
    """The chart's objects for these values (as `helm template` renders them)."""
    return documents(_rendered(tuple(values_files), sets, served))


def notes(*values_files: pathlib.Path, served: bool = True) -> str:
    """The chart's NOTES.txt for these values. `helm template` never prints NOTES, and
    `helm install --dry-run` wants a cluster: a copy of the chart gets one more template that
    includes NOTES.txt into a ConfigMap, and that is rendered."""
    with tempfile.TemporaryDirectory() as folder:
        chart = pathlib.Path(folder) / "greenlight"
        shutil.copytree(tools.CHART, chart)
        (chart / "templates" / "zz-notes.yaml").write_text(_NOTES_PROBE)
        args: list[str | pathlib.Path] = ["template", "greenlight", chart]
        args += ["--namespace", tools.NAMESPACE, "--show-only", "templates/zz-notes.yaml"]
        for path in (REQUIRED_VALUES, *values_files):
            args += ["--values", path]
        if served:
            for api in SERVED:
                args += ["--api-versions", api]
        result = tools.run("helm", *args)
    assert result.returncode == 0, result.output
    text: str = documents(result.stdout)[0]["data"]["notes"]
    return text


_NOTES_PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include "greenlight/templates/NOTES.txt" . | quote }}
"""


def documents(text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc.get("kind") == kind]


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(where, pod spec) of every pod the objects will run: workloads and Release templates."""
    for doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job", "Release"}:
            yield f"{kind}/{name}", doc["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield f"Pod/{name}", doc["spec"]


def load_yaml_file(path: pathlib.Path) -> list[Doc]:
    return documents(path.read_text())
