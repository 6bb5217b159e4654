"""`kubectl apply -k manifests/` installs valid objects: the CRD, RBAC and the operator."""

from __future__ import annotations

import pathlib

from tests.validation import rendering, tools


def test_kustomization_builds_valid_objects(tmp_path: pathlib.Path) -> None:
    built = tools.run("kubectl", "kustomize", "manifests")
    assert built.returncode == 0, built.output
    docs = rendering.documents(built.stdout)
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == [
        "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Deployment",
        "Namespace", "ServiceAccount",
    ]  # fmt: skip
    out = tmp_path / "manifests.yaml"
    out.write_text(built.stdout)
    result = tools.run(
        "kubernetes-validate", "--strict", "--quiet", "-k", tools.KUBERNETES_VERSION, out
    )
    assert result.returncode == 0, result.output


def test_each_manifest_file_is_valid_on_its_own() -> None:
    files = sorted((tools.ROOT / "manifests").glob("*/*.yaml"))
    files = [f for f in files if f.parent.name != "examples"]
    result = tools.run(
        "kubernetes-validate", "--strict", "--quiet", "-k", tools.KUBERNETES_VERSION, *files
    )
    assert result.returncode == 0, result.output


def test_operator_manifest_matches_the_chart_defaults() -> None:
    """The raw Deployment runs the operator as the chart does by default."""
    (deployment,) = rendering.load_yaml_file(tools.ROOT / "manifests/operator/deployment.yaml")
    chart = rendering.one(rendering.render(), "Deployment")
    raw_container = deployment["spec"]["template"]["spec"]["containers"][0]
    chart_container = chart["spec"]["template"]["spec"]["containers"][0]
    for field in ("command", "securityContext", "resources", "livenessProbe"):
        assert raw_container[field] == chart_container[field], field
    chart_args = [a for a in chart_container["args"] if not a.startswith("--log-format")]
    assert raw_container["args"] == chart_args
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
