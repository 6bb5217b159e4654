"""The chart installs exactly the CRD of manifests/crds/ (itself generated from the models)."""

from __future__ import annotations

import copy
import subprocess
import sys

from greenlight import crd
from tests.validation import rendering, tools

MANIFEST = tools.ROOT / "manifests" / "crds" / "releases.greenlight.dev.yaml"
# Helm's `crds/` folder: installed before the templates are mapped, never templated.
CHART_COPY = tools.CHART / "crds" / "releases.greenlight.dev.yaml"


def _chart_crd(*sets: str) -> rendering.Doc:
    docs = rendering.render(sets=sets)
    return rendering.one(docs, "CustomResourceDefinition", crd.CRD_NAME)


def test_chart_crd_is_the_manifest_crd() -> None:
    (manifest,) = rendering.load_yaml_file(MANIFEST)
    assert _chart_crd() == manifest


def test_chart_copy_is_what_make_crd_writes() -> None:
    assert CHART_COPY.read_text() == crd.render(), "run `make crd` after changing the models"
    assert not (tools.CHART / "templates" / "crds").exists(), "a templated CRD comes too late"


def test_make_crd_writes_both_copies() -> None:
    makefile = (tools.ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\ncrd:") :].split("\n\n", 1)[0]
    assert "> manifests/crds/releases.greenlight.dev.yaml" in recipe
    assert "> charts/greenlight/crds/releases.greenlight.dev.yaml" in recipe


def test_the_generator_prints_the_manifest() -> None:
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
    assert _chart_crd() != drifted
