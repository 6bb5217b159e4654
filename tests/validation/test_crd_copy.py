"""The chart installs exactly the CRD of manifests/crds/ (itself generated from the models)."""

from __future__ import annotations

import copy
import pathlib
import subprocess
import sys

from greenlight import crd
from tests.validation import rendering, tools

MANIFEST = tools.ROOT / "manifests" / "crds" / "releases.greenlight.dev.yaml"
CHART_COPY = tools.CHART / "templates" / "crds" / "releases.greenlight.dev.yaml"
KEEP = "helm.sh/resource-policy"


def _chart_crd(*sets: str) -> rendering.Doc:
    docs = rendering.render(sets=sets)
    return rendering.one(docs, "CustomResourceDefinition", crd.CRD_NAME)


def _without_keep(doc: rendering.Doc) -> rendering.Doc:
    stripped = copy.deepcopy(doc)
    annotations = stripped["metadata"].get("annotations", {})
    annotations.pop(KEEP, None)
    if not annotations:
        stripped["metadata"].pop("annotations", None)
    return stripped


def test_chart_crd_is_the_manifest_crd() -> None:
    (manifest,) = rendering.load_yaml_file(MANIFEST)
    chart = _chart_crd()
    assert chart["metadata"]["annotations"] == {KEEP: "keep"}
    assert _without_keep(chart) == manifest


def test_keep_and_install_switches() -> None:
    assert "annotations" not in _chart_crd("crds.keep=false")["metadata"]
    docs = rendering.render(sets=("crds.install=false",))
    assert rendering.by_kind(docs, "CustomResourceDefinition") == []


def test_chart_copy_is_what_make_crd_writes() -> None:
    assert CHART_COPY.read_text() == crd.render_helm(), "run `make crd` after changing the models"


def test_the_helm_flag_of_the_generator(tmp_path: pathlib.Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "greenlight.crd", "--helm"],
        capture_output=True, text=True, check=True, cwd=tools.ROOT,
    )  # fmt: skip
    assert done.stdout == CHART_COPY.read_text()
    plain = subprocess.run(
        [sys.executable, "-m", "greenlight.crd"],
        capture_output=True, text=True, check=True, cwd=tools.ROOT,
    )  # fmt: skip
    assert plain.stdout == MANIFEST.read_text()


def test_a_drifted_copy_is_caught() -> None:
    """The comparison above is not vacuous: a one-field change makes the objects differ."""
    (manifest,) = rendering.load_yaml_file(MANIFEST)
    drifted = copy.deepcopy(manifest)
    drifted["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "replicas"
    ]["minimum"] = 1
    assert _without_keep(_chart_crd()) != drifted
