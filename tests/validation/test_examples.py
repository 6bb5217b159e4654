"""Every example Release, and the chart's own, is accepted by the Release CRD's schema."""

from __future__ import annotations

import pathlib

import pytest

from tests.validation import crd_schema, rendering, tools

CRD = crd_schema.load_crd(tools.ROOT / "manifests" / "crds" / "releases.greenlight.dev.yaml")
EXAMPLES = sorted((tools.ROOT / "manifests" / "examples").glob("*.yaml"))
BROKEN = pathlib.Path(__file__).parent / "broken"


def test_there_are_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"web.yaml", "manual-promotion.yaml", "failing.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_a_valid_release(path: pathlib.Path) -> None:
    docs = rendering.load_yaml_file(path)
    assert docs, path
    for doc in docs:
        assert crd_schema.problems(CRD, doc) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_explained(path: pathlib.Path) -> None:
    """An example starts with what it shows and how to use it, and comments its fields."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# "), path
    comments = sum(1 for line in lines if line.lstrip().startswith("#"))
    assert comments >= 8, f"{path.name}: only {comments} comment lines"


@pytest.mark.parametrize("scenario", rendering.SCENARIOS)
def test_chart_release_is_valid(scenario: str) -> None:
    release = rendering.one(rendering.render(rendering.scenario(scenario)), "Release")
    assert crd_schema.problems(CRD, release) == []


def test_the_check_refuses_a_broken_release() -> None:
    (broken,) = rendering.load_yaml_file(BROKEN / "release-invalid.yaml")
    found = "\n".join(crd_schema.problems(CRD, broken))
    assert "spec.replicas: -1 is less than the minimum of 0" in found
    assert "'autoPromte' was unexpected" in found
    assert "spec.gates.0: 'name' is a required property" in found


def test_the_check_knows_nullable_and_int_or_string() -> None:
    schema = crd_schema.to_json_schema(
        {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    )
    assert schema["additionalProperties"] is False
    assert schema["properties"]["note"]["type"] == ["string", "null"]
    assert schema["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "additionalProperties" not in schema["properties"]["free"]
