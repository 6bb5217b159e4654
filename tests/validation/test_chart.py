"""The chart lints, renders valid Kubernetes objects in every scenario, and refuses bad values."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest
import yaml

from tests.validation import rendering, tools

BROKEN = pathlib.Path(__file__).parent / "broken"


@pytest.mark.parametrize("scenario", rendering.SCENARIOS)
def test_lints_strictly(scenario: str) -> None:
    result = tools.run(
        "helm", "lint", "--strict", tools.CHART,
        "--namespace", tools.NAMESPACE, "--values", rendering.scenario(scenario),
    )  # fmt: skip
    assert result.returncode == 0, result.output


@pytest.mark.parametrize("scenario", rendering.SCENARIOS)
def test_renders_valid_kubernetes_objects(scenario: str, tmp_path: pathlib.Path) -> None:
    rendered = rendering.template_text(rendering.scenario(scenario))
    assert rendered.returncode == 0, rendered.output
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered.stdout)
    result = tools.run(
        "kubernetes-validate", "--strict", "--quiet", "-k", tools.KUBERNETES_VERSION, out
    )
    assert result.returncode == 0, result.output
    assert "ERROR" not in result.output, result.output


# Combinations beyond the scenarios, rendered and validated the same way.
COMBINATIONS = {
    "no-api-service": ("apiService.enabled=false",),
    "peering-crds-owned-elsewhere": ("operator.peering.enabled=true", "operator.replicas=2"),
    "namespaced-peering": (
        "operator.watchNamespaces={greenlight-system,shop}",
        "operator.peering.enabled=true",
        "operator.replicas=3",
    ),
    "manual-api-promotion": ("apiService.strategy.autoPromote=false", "apiService.auth=none"),
}


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_combinations_render_valid_objects(name: str, tmp_path: pathlib.Path) -> None:
    rendered = rendering.template_text(sets=COMBINATIONS[name])
    assert rendered.returncode == 0, rendered.output
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered.stdout)
    result = tools.run(
        "kubernetes-validate", "--strict", "--quiet", "-k", tools.KUBERNETES_VERSION, out
    )
    assert result.returncode == 0, result.output


def test_namespaced_peering_uses_a_peering_object_per_namespace() -> None:
    docs = rendering.render(sets=COMBINATIONS["namespaced-peering"])
    peerings = {
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for d in docs
        if d["kind"] == "KopfPeering"
    }
    assert peerings == {("greenlight-system", "greenlight"), ("shop", "greenlight")}
    assert not rendering.by_kind(docs, "ClusterKopfPeering")
    assert rendering.one(docs, "Deployment")["spec"]["replicas"] == 3


# Broken values, what the chart must say about each, and whether `helm lint` catches it too
# (lint checks values.schema.json; the template's own `fail` checks run only when rendering).
BROKEN_VALUES = [
    ("values-wrong-types.yaml", "want integer", True),
    ("values-unknown-key.yaml", "additional properties 'replica' not allowed", True),
    ("values-privileged.yaml", "allowPrivilegeEscalation", True),
    ("values-replicas-without-peering.yaml", "peering", True),
    ("values-namespaced-without-own-namespace.yaml", "must include the release namespace", False),
    ("values-peering-crds-without-peering.yaml", "installCRDs needs operator.peering", False),
]


@pytest.mark.parametrize(("values", "complaint", "by_lint"), BROKEN_VALUES)
def test_refuses_broken_values(values: str, complaint: str, by_lint: bool) -> None:
    rendered = rendering.template_text(BROKEN / values)
    assert rendered.returncode != 0, f"helm template accepted {values}"
    assert complaint in rendered.output, rendered.output
    if by_lint:
        linted = tools.run(
            "helm", "lint", "--strict", tools.CHART,
            "--namespace", tools.NAMESPACE, "--values", BROKEN / values,
        )  # fmt: skip
        assert linted.returncode != 0, f"helm lint accepted {values}"
        assert complaint in linted.output, linted.output


def test_kubernetes_validate_refuses_a_broken_object() -> None:
    result = tools.run(
        "kubernetes-validate", "--strict", "--quiet", "-k", tools.KUBERNETES_VERSION,
        BROKEN / "deployment-unknown-field.yaml",
    )  # fmt: skip
    assert result.returncode != 0, result.output
    assert "Additional properties are not allowed ('replica' was unexpected)" in result.output
    assert "'eighty' is not of type 'integer'" in result.output


def test_one_install_creates_the_whole_system() -> None:
    """The Release CRD is in the chart's `crds/` folder (Kopf's peering CRDs in its subchart's),
    which Helm installs before it maps any template: the API service's Release and the peering
    object are in the first install, on a cluster that served none of these kinds before, and
    NOTES never asks for a second run."""
    docs = rendering.render(rendering.scenario("peering-values.yaml"), served=False)
    crds = {doc["metadata"]["name"] for doc in rendering.by_kind(docs, "CustomResourceDefinition")}
    assert crds == {
        "releases.greenlight.dev",
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }
    assert rendering.one(docs, "Release", "greenlight-api")
    assert rendering.one(docs, "ClusterKopfPeering", "greenlight")
    operator = rendering.one(docs, "Deployment")
    assert operator["spec"]["replicas"] == 2
    assert not list((tools.CHART / "templates").rglob("*customresourcedefinition*"))
    for template in (tools.CHART / "templates").rglob("*"):
        if template.is_file():
            assert "kind: CustomResourceDefinition" not in template.read_text(), template
    assert "once more" not in rendering.notes(rendering.scenario("peering-values.yaml"))
    assert "Capabilities" not in (tools.CHART / "templates" / "_helpers.tpl").read_text()


def test_peering_crds_are_a_value_of_their_own() -> None:
    """Kopf's peering CRDs are cluster-wide and may belong to another Kopf-based operator:
    peering alone does not install them, and without peering they are never installed."""

    def crds(*sets: str) -> set[str]:
        docs = rendering.render(sets=sets)
        return {d["metadata"]["name"] for d in rendering.by_kind(docs, "CustomResourceDefinition")}

    assert crds() == {"releases.greenlight.dev"}
    peered = ("operator.peering.enabled=true", "operator.replicas=2")
    assert crds(*peered) == {"releases.greenlight.dev"}
    assert "clusterkopfpeerings.kopf.dev" in crds(*peered, "operator.peering.installCRDs=true")


def test_image_repositories_are_required_with_a_clear_message() -> None:
    """No image is published under the old default names: an install names its registry."""
    rendered = rendering.template_text(required=False)
    assert rendered.returncode != 0
    assert "operator.image.repository is required" in rendered.output, rendered.output
    rendered = rendering.template_text(
        sets=("operator.image.repository=r.example/op",), required=False
    )
    assert "apiService.image.repository is required" in rendered.output, rendered.output


def test_peering_runs_replicas_with_distinct_priorities() -> None:
    docs = rendering.render(rendering.scenario("peering-values.yaml"))
    operator = rendering.one(docs, "Deployment")
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert operator["spec"]["replicas"] == 2
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    assert "--peering=greenlight" in container["args"]
    assert "--standalone" not in container["args"]
    assert "--priority" in " ".join(container["command"])
    assert rendering.one(docs, "ClusterKopfPeering", "greenlight")
    assert rendering.one(docs, "PodDisruptionBudget", "greenlight-operator")
    crds = {doc["metadata"]["name"] for doc in rendering.by_kind(docs, "CustomResourceDefinition")}
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= crds


def test_a_standalone_operator_never_overlaps_its_successor() -> None:
    operator = rendering.one(rendering.render(), "Deployment")
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--standalone", "--all-namespaces", "--module=greenlight.main"} <= set(args)
    assert "--liveness=http://0.0.0.0:8080/healthz" in args


def test_namespaced_mode_serves_only_its_namespaces() -> None:
    docs = rendering.render(rendering.scenario("namespaced-values.yaml"))
    args = rendering.one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--all-namespaces" not in args
    assert {"--namespace=greenlight-system", "--namespace=shop"} <= set(args)
    roles = {
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in rendering.by_kind(docs, "Role")
    }
    assert ("shop", "greenlight-operator") in roles
    assert ("shop", "greenlight-api") in roles
    env = rendering.one(docs, "Release")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "GREENLIGHT_API_NAMESPACES", "value": "greenlight-system,shop"} in env


def test_eks_scenario_routes_an_alb_to_pod_ips_with_irsa() -> None:
    docs = rendering.render(rendering.scenario("eks-values.yaml"))
    ingress = rendering.one(docs, "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/readyz"
    assert ingress["spec"]["ingressClassName"] == "alb"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][-1]["backend"]["service"]
    release = rendering.one(docs, "Release")
    assert backend["name"] == release["spec"]["service"]["name"], "the Ingress follows the switch"
    accounts = {d["metadata"]["name"]: d for d in rendering.by_kind(docs, "ServiceAccount")}
    role = accounts["greenlight-api"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.startswith("arn:aws:iam::")
    image = release["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":0123456789abcdef0123456789abcdef01234567")


def test_servicemonitor_scenario_selects_the_metrics_service() -> None:
    docs = rendering.render(rendering.scenario("servicemonitor-values.yaml"))
    monitor = rendering.one(docs, "ServiceMonitor")
    service = rendering.one(docs, "Service")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rendering.one(docs, "PodMonitor")


def _is_group(schema_node: dict[str, Any]) -> bool:
    """A key the chart defines to hold other keys (`operator:`), as opposed to a value, however
    nested (`resources:`): in values.schema.json, a closed object with no description."""
    return (
        schema_node.get("type") == "object"
        and schema_node.get("additionalProperties") is False
        and "description" not in schema_node
    )


def _values() -> list[tuple[str, int, bool]]:
    """(dotted key, line, has a comment right above) of each value in values.yaml. Groups
    (`operator:`) are explained by their keys; the insides of a value (`resources:
    {requests: ...}`, a list of gates) are data, not keys of the chart."""
    schema = json.loads((tools.CHART / "values.schema.json").read_text())
    lines = (tools.CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, dict[str, Any], str]] = [(-1, schema, "")]
    found = []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack[-1][0] >= indent:
            stack.pop()
        parent, prefix = stack[-1][1], stack[-1][2]
        if not _is_group(parent):
            continue
        node, path = parent["properties"][key], f"{prefix}.{key}".lstrip(".")
        stack.append((indent, node, path))
        if not _is_group(node):
            found.append((path, number + 1, lines[number - 1].lstrip().startswith("#")))
    return found


def test_every_value_is_documented() -> None:
    """Each value in values.yaml has a comment right above it."""
    values = _values()
    assert len(values) > 50
    assert [
        f"values.yaml:{line}: {key}" for key, line, documented in values if not documented
    ] == []


def test_chart_readme_lists_every_value() -> None:
    readme = (tools.CHART / "README.md").read_text()
    listed = set(re.findall(r"^\| `([A-Za-z][\w.]*)` \|", readme, re.MULTILINE))
    keys = {key for key, _, _ in _values()}
    assert sorted(keys - listed) == [], "values missing from the chart README's table"
    assert sorted(listed - keys) == [], "the chart README lists values that do not exist"


def test_every_value_is_in_the_schema() -> None:
    """values.schema.json declares every key values.yaml has (and refuses others)."""
    schema = json.loads((tools.CHART / "values.schema.json").read_text())
    values = yaml.safe_load((tools.CHART / "values.yaml").read_text())

    def missing(node: object, schema_node: dict[str, Any], path: str) -> list[str]:
        if not isinstance(node, dict) or not _is_group(schema_node):
            return []
        properties = schema_node["properties"]
        found = [f"{path}.{key}" for key in node if key not in properties]
        for key, value in node.items():
            if key in properties:
                found += missing(value, properties[key], f"{path}.{key}")
        return found

    assert missing(values, schema, "") == []


def test_the_ingress_limits_request_bodies() -> None:
    docs = rendering.render(rendering.scenario("eks-values.yaml"))
    annotations = rendering.one(docs, "Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "64k"


def test_an_alb_answers_metrics_itself() -> None:
    docs = rendering.render(rendering.scenario("eks-values.yaml"))
    ingress = rendering.one(docs, "Ingress")
    first = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert (first["path"], first["pathType"]) == ("/metrics", "Exact")
    assert first["backend"]["service"] == {
        "name": "block-metrics",
        "port": {"name": "use-annotation"},
    }
    action = json.loads(
        ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.block-metrics"]
    )
    assert action["type"] == "fixed-response"
    assert action["fixedResponseConfig"]["statusCode"] == "404"


def test_a_drain_never_empties_the_serving_api_colour() -> None:
    """A PodDisruptionBudget selects the API pods of both colours (the labels the Release's
    template gives them), so evictions take them one at a time."""
    docs = rendering.render()
    budget = rendering.one(docs, "PodDisruptionBudget", "greenlight-api")
    template_labels = rendering.one(docs, "Release")["spec"]["template"]["metadata"]["labels"]
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template_labels.items()
    assert selector["app.kubernetes.io/component"] == "api"
    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"]
    off = rendering.render(sets=("apiService.podDisruptionBudget.enabled=false",))
    assert not [d for d in rendering.by_kind(off, "PodDisruptionBudget")]


def test_eks_pulls_both_images_with_the_pull_secret() -> None:
    """EKS nodes have no credentials for the project's registry: the pull secret the deploy
    job creates reaches the operator's pods, the API service's pods of both colours and the
    uninstall hook's pod."""
    docs = rendering.render(rendering.scenario("eks-values.yaml"))
    pods = dict(rendering.pod_specs(docs))
    assert set(pods) == {
        "Deployment/greenlight-operator",
        "Release/greenlight-api",
        "Job/greenlight-operator-uninstall",
    }
    for where, pod in pods.items():
        assert pod["imagePullSecrets"] == [{"name": "greenlight-registry"}], where
        assert pod["containers"][0]["image"].startswith("registry.example.com/greenlight/")


def test_notifications_read_exactly_one_secret() -> None:
    """The channels' Secret is named once; the operator gets its env and may get that Secret
    alone, in the release namespace. Without it, no Secret is readable at all."""
    assert not [
        d for d in rendering.by_kind(rendering.render(), "Role") if "notifications" in str(d)
    ]
    docs = rendering.render(
        sets=(
            "operator.notifications.secret=greenlight-channels",
            "operator.notifications.dashboardUrl=https://greenlight.example.com",
        )
    )
    role = rendering.one(docs, "Role", "greenlight-operator-notifications")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["greenlight-channels"],
            "verbs": ["get"],
        }
    ]
    binding = rendering.one(docs, "RoleBinding", "greenlight-operator-notifications")
    assert binding["subjects"][0]["name"] == "greenlight-operator"
    deployment = rendering.one(docs, "Deployment", "greenlight-operator")
    env = {
        var["name"]: var.get("value")
        for var in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    namespace = role["metadata"]["namespace"]
    assert env["GREENLIGHT_NOTIFICATIONS_SECRET"] == f"{namespace}/greenlight-channels"
    assert env["GREENLIGHT_DASHBOARD_URL"] == "https://greenlight.example.com"


def test_uninstall_releases_the_finalizers_before_anything_goes() -> None:
    """A plain `helm uninstall` runs a pre-delete Job that stops the operator and releases its
    finalizer; its ServiceAccount and RBAC are hooks created before it (lower weight), and all
    go once it succeeded."""
    docs = rendering.render(rendering.scenario("namespaced-values.yaml"))
    hooks = [d for d in docs if "helm.sh/hook" in (d["metadata"].get("annotations") or {})]
    weights: dict[str, int] = {}
    for doc in hooks:
        annotations = doc["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-delete", doc["metadata"]["name"]
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        weights[f"{doc['kind']}/{doc['metadata'].get('namespace')}/{doc['metadata']['name']}"] = (
            int(annotations["helm.sh/hook-weight"])
        )
    job_weight = weights.pop("Job/greenlight-system/greenlight-operator-uninstall")
    assert sorted({key.split("/")[0] for key in weights}) == [
        "Role", "RoleBinding", "ServiceAccount"
    ]  # fmt: skip
    assert all(weight < job_weight for weight in weights.values()), weights
    for key, weight in weights.items():
        if key.startswith("RoleBinding/"):
            role = weights["Role/" + key.removeprefix("RoleBinding/")]
            assert (
                role < weight
                and weights["ServiceAccount/greenlight-system/greenlight-operator-uninstall"]
                < weight
            ), key
    job = rendering.one(hooks, "Job", "greenlight-operator-uninstall")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "greenlight.uninstall"]
    assert (
        container["image"]
        == rendering.one(docs, "Deployment", "greenlight-operator")["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
    )
    assert "--operator-deployment=greenlight-operator" in container["args"]
    assert [a for a in container["args"] if a.startswith("--namespace=")] == [
        "--namespace=greenlight-system",
        "--namespace=shop",
    ]
    clusterwide = rendering.one(rendering.render(), "Job", "greenlight-operator-uninstall")
    args = clusterwide["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in args if a.startswith("--namespace=")], "every namespace"
