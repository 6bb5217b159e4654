"""skaffold.yaml is valid for skaffold v4beta13 and builds both images from the one Dockerfile."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from tests.validation import tools

SKAFFOLD = tools.ROOT / "skaffold.yaml"
# The official schema lives beside the repository, never in it.
SCHEMA = tools.ROOT.parent / "shared" / "schemas" / "skaffold-v4beta13.json"
BROKEN = pathlib.Path(__file__).parent / "broken"

needs_schema = pytest.mark.skipif(
    not SCHEMA.is_file(), reason="the skaffold schema (../shared/schemas) is not beside the repo"
)


def _config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SKAFFOLD.read_text())
    return loaded


@needs_schema
def test_valid_against_the_official_schema() -> None:
    result = tools.run(
        "check-jsonschema", "--schemafile", "../shared/schemas/skaffold-v4beta13.json", SKAFFOLD
    )
    assert result.returncode == 0, result.output


@needs_schema
def test_the_schema_check_refuses_a_broken_config() -> None:
    result = tools.run(
        "check-jsonschema", "--schemafile", "../shared/schemas/skaffold-v4beta13.json",
        BROKEN / "skaffold.yaml",
    )  # fmt: skip
    assert result.returncode != 0, result.output
    assert "'taget' was unexpected" in result.output


def test_both_images_from_the_one_dockerfile() -> None:
    artifacts = _config()["build"]["artifacts"]
    assert {(a["image"], a["docker"]["dockerfile"], a["docker"]["target"]) for a in artifacts} == {
        ("greenlight/operator", "Dockerfile", "operator"),
        ("greenlight/api", "Dockerfile", "api"),
    }
    assert _config()["build"]["local"]["push"] is False


def test_deploys_the_chart_with_the_built_images() -> None:
    (release,) = _config()["deploy"]["helm"]["releases"]
    assert release["chartPath"] == "charts/greenlight"
    templates = release["setValueTemplates"]
    assert templates["operator.image.repository"] == "{{.IMAGE_REPO_greenlight_operator}}"
    assert templates["apiService.image.tag"] == "{{.IMAGE_TAG_greenlight_api}}"
    assert "crds.install" not in release["setValues"]


def test_the_crd_hook_uses_skaffolds_kube_context() -> None:
    """The hook applies the chart's CRDs (Helm never upgrades them) to the cluster skaffold
    deploys to: every kubectl in it names skaffold's context, never the current one."""
    hook = " ".join(_config()["deploy"]["helm"]["hooks"]["before"][0]["host"]["command"])
    assert "-f charts/greenlight/crds/" in hook
    assert "--server-side" in hook
    assert hook.count("kubectl") == hook.count('kubectl --context "$SKAFFOLD_KUBE_CONTEXT"') == 2


def test_dev_and_e2e_profiles() -> None:
    profiles = {p["name"]: p for p in _config()["profiles"]}
    assert set(profiles) == {"dev", "e2e"}
    assert profiles["dev"]["activation"] == [{"command": "dev"}]
    # Every patch targets a key that exists in the base config's release.
    for profile in profiles.values():
        for patch in profile.get("patches", []):
            assert patch["path"].startswith("/deploy/helm/releases/0/setValues/"), patch
