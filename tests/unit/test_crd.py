"""The committed CRD is exactly what the models generate, and it is a valid structural schema."""

from __future__ import annotations

import pathlib

import yaml

from greenlight import crd

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "manifests" / "crds" / "releases.greenlight.dev.yaml"


def test_committed_crd_matches_the_models() -> None:
    assert COMMITTED.read_text() == crd.render(), "run `make crd` after changing the models"


def _walk(node: object, path: str = "") -> list[str]:
    """Lists the places that break the rules of a structural schema."""
    problems: list[str] = []
    if isinstance(node, dict):
        for banned in ("$ref", "anyOf", "allOf", "oneOf", "title", "$defs"):
            if banned in node and not path.endswith("properties"):
                problems.append(f"{path}: {banned}")
        for key, value in node.items():
            problems += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems += _walk(value, f"{path}[{index}]")
    return problems


def test_schema_is_structural_and_described() -> None:
    doc = yaml.safe_load(COMMITTED.read_text())
    schema = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _walk(schema) == []
    spec = schema["properties"]["spec"]

    def undescribed(node: dict[str, object], path: str) -> list[str]:
        missing = [] if "description" in node else [path]
        props = node.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                missing += undescribed(sub, f"{path}.{name}")
        items = node.get("items")
        if isinstance(items, dict) and "properties" in items:
            missing += undescribed(items, f"{path}[]")
        return missing

    assert undescribed(spec, "spec") == []


def test_bounds_and_defaults_of_the_contract() -> None:
    schema = crd.release_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]["properties"]
    assert spec["replicas"]["minimum"] == 0
    assert spec["replicas"]["default"] == 1
    gate = spec["gates"]["items"]["properties"]
    assert gate["successThreshold"]["minimum"] == 1
    assert gate["failureThreshold"]["minimum"] == 1
    assert spec["service"]["properties"]["port"]["default"] == 80
    assert spec["strategy"]["properties"]["autoPromote"]["default"] is True
    names = crd.release_crd()["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == ("Release", "releases", ["rel"])
    columns = [
        c["name"] for c in crd.release_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    ]
    assert columns == ["Phase", "Active", "Revision", "Image", "Age"]
