"""A gate's path stays inside its Service: the model and the CRD refuse dot segments, their
percent-encodings, encoded slashes and backslashes, and name the field."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest
import yaml

from greenlight.validation import ValidSpec, validate_spec

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRD = ROOT / "manifests" / "crds" / "releases.greenlight.dev.yaml"

ESCAPING = [
    "/..",
    "/../../../../../../../../apis/apps/v1/namespaces/shop/deployments",
    "/readyz/../../../../api/v1/secrets",
    "/./x",
    "/a/.",
    "/%2e%2e/%2E%2e/api",
    "/.%2E/x",
    "/%2e/x",
    "/a\\..\\..\\b",
    "/a?x=\\",
    "/..%2fapi",
    "/%2f..",
    "/a%5c..",
    "/a#/../..",
    "/100%",
    "readyz",
]
FINE = [
    "/",
    "/readyz",
    "/health/ready?verbose=1&x=y",
    "/...",
    "/a.b/.well-known/..x",
    "/x%20y",
    "/search?next=../up",
    "//double",
]


def release_spec(path: str, *, where: str = "gates") -> dict[str, Any]:
    gate = {"name": "g", "http": {"path": path}}
    spec: dict[str, Any] = {
        "template": {
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}
        },
    }
    if where == "gates":
        spec["gates"] = [gate]
    else:
        spec["verification"] = {"gates": [gate]}
    return spec


def crd_path_patterns() -> list[str]:
    """The patterns of both gate lists (the chart's copy is kept equal by a validation test)."""
    crd = yaml.safe_load(CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    lists = (spec["properties"]["gates"], spec["properties"]["verification"]["properties"]["gates"])
    return [
        gates["items"]["properties"]["http"]["properties"]["path"]["pattern"] for gates in lists
    ]


@pytest.mark.parametrize("path", ESCAPING)
@pytest.mark.parametrize("where", ["gates", "verification"])
def test_the_model_refuses_a_path_that_leaves_the_service(path: str, where: str) -> None:
    problem = validate_spec(release_spec(path, where=where))
    assert not isinstance(problem, ValidSpec)
    field = (
        "spec.gates[0].http.path" if where == "gates" else "spec.verification.gates[0].http.path"
    )
    assert problem.field == field
    assert problem.message.startswith("must ")


@pytest.mark.parametrize("path", ESCAPING)
def test_the_crd_refuses_a_path_that_leaves_the_service(path: str) -> None:
    for pattern in crd_path_patterns():
        assert re.search(pattern, path) is None


@pytest.mark.parametrize("path", FINE)
def test_ordinary_paths_are_accepted(path: str) -> None:
    assert isinstance(validate_spec(release_spec(path)), ValidSpec)
    for pattern in crd_path_patterns():
        assert re.search(pattern, path) is not None


def test_the_pattern_is_linear_on_long_hostile_paths() -> None:
    (pattern, *_) = crd_path_patterns()
    for hostile in ("/" + "." * 2000 + "#", "/" + "a." * 1000 + "\\", "/" + "%2e" * 680 + "/.."):
        assert re.search(pattern, hostile) is None
