"""The chart and the manifests grant exactly the rights Greenlight needs, compared with an
explicit allow-list: a new verb or resource must be added here, on purpose, with a reason."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.validation import rendering, tools

Grants = dict[tuple[str, str], set[str]]

# (apiGroup, resource) -> verbs. Every entry is explained by a comment on its rule in
# charts/greenlight/templates/_rbac.tpl and manifests/rbac/operator.yaml.
OPERATOR_NEEDS: Grants = {
    ("greenlight.dev", "releases"): {"get", "list", "watch", "patch"},
    ("greenlight.dev", "releases/status"): {"get", "patch", "update"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch", "update", "delete"},
    ("apps", "controllerrevisions"): {"get", "list", "create", "delete", "patch"},
    ("", "services"): {"get", "list", "watch", "create", "patch", "update"},
    ("discovery.k8s.io", "endpointslices"): {"get", "list", "watch"},
    ("", "pods"): {"get", "list"},
    ("", "events"): {"create", "patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
}
# Only cluster-wide (--all-namespaces).
OPERATOR_CLUSTERWIDE: Grants = {("", "namespaces"): {"list", "watch"}}
# Only with operator.probeVia=apiserver.
OPERATOR_PROXY: Grants = {("", "services/proxy"): {"get"}}
# Only with operator.peering.enabled.
OPERATOR_PEERING: Grants = {
    ("kopf.dev", "clusterkopfpeerings"): {"get", "list", "watch", "patch"},
    ("kopf.dev", "kopfpeerings"): {"get", "list", "watch", "patch"},
}
API_NEEDS: Grants = {
    ("authentication.k8s.io", "tokenreviews"): {"create"},
    ("authorization.k8s.io", "subjectaccessreviews"): {"create"},
    ("greenlight.dev", "releases"): {"get", "list", "watch", "patch"},
}


def _merge(*grants: Grants) -> Grants:
    merged: Grants = defaultdict(set)
    for grant in grants:
        for key, verbs in grant.items():
            merged[key] |= verbs
    return dict(merged)


def excess(granted: Grants, allowed: Grants) -> list[str]:
    """Rights in `granted` beyond `allowed`, one line each; empty when within it."""
    found = []
    for (group, resource), verbs in sorted(granted.items()):
        extra = verbs - allowed.get((group, resource), set())
        if extra:
            found.append(f"{group or 'core'}/{resource}: {sorted(extra)}")
    return found


def grants_of(docs: list[rendering.Doc], account: str) -> tuple[Grants, Grants]:
    """(cluster-wide grants, per-namespace grants merged) of a ServiceAccount. Wildcards,
    aggregation and non-resource URLs are refused outright."""
    roles = {
        (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]): doc
        for doc in docs
        if doc.get("kind") in {"Role", "ClusterRole"}
    }
    clusterwide: Grants = defaultdict(set)
    namespaced: Grants = defaultdict(set)
    for binding in docs:
        if binding.get("kind") not in {"RoleBinding", "ClusterRoleBinding"}:
            continue
        if not any(s.get("name") == account for s in binding["subjects"]):
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles[(ref["kind"], namespace, ref["name"])]
        assert "aggregationRule" not in role
        target = clusterwide if binding["kind"] == "ClusterRoleBinding" else namespaced
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule, rule
            assert "resourceNames" not in rule or rule["resourceNames"], rule
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"wildcard in {rule}"
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    target[(group, resource)] |= set(rule["verbs"])
    return dict(clusterwide), dict(namespaced)


def test_clusterwide_operator_gets_exactly_what_it_needs() -> None:
    docs = rendering.render()
    clusterwide, namespaced = grants_of(docs, "greenlight-operator")
    assert namespaced == {}
    assert clusterwide == _merge(OPERATOR_NEEDS, OPERATOR_CLUSTERWIDE)


def test_api_service_gets_exactly_what_it_needs() -> None:
    clusterwide, namespaced = grants_of(rendering.render(), "greenlight-api")
    assert namespaced == {}
    assert clusterwide == API_NEEDS


def test_namespaced_mode_grants_namespaced_rights_per_namespace() -> None:
    docs = rendering.render(rendering.scenario("namespaced-values.yaml"))
    clusterwide, namespaced = grants_of(docs, "greenlight-operator")
    crds = ("apiextensions.k8s.io", "customresourcedefinitions")
    assert clusterwide == {crds: OPERATOR_NEEDS[crds]}, "only CRD reads are cluster-wide"
    expected = {k: v for k, v in _merge(OPERATOR_NEEDS, OPERATOR_PROXY).items() if k != crds}
    assert namespaced == expected
    for namespace in ("greenlight-system", "shop"):
        assert rendering.one(
            [d for d in docs if d["metadata"].get("namespace") == namespace], "Role",
            "greenlight-operator",
        )  # fmt: skip
    api_cluster, api_namespaced = grants_of(docs, "greenlight-api")
    assert ("greenlight.dev", "releases") not in api_cluster
    assert api_namespaced == {
        ("greenlight.dev", "releases"): API_NEEDS[("greenlight.dev", "releases")]
    }


@pytest.mark.parametrize("scenario", rendering.SCENARIOS)
def test_no_scenario_grants_more_than_the_allow_list(scenario: str) -> None:
    docs = rendering.render(rendering.scenario(scenario))
    allowed = _merge(OPERATOR_NEEDS, OPERATOR_CLUSTERWIDE, OPERATOR_PROXY, OPERATOR_PEERING)
    for grants in grants_of(docs, "greenlight-operator"):
        assert excess(grants, allowed) == []
    for grants in grants_of(docs, "greenlight-api"):
        assert excess(grants, API_NEEDS) == []


def test_peering_rights_come_only_with_peering() -> None:
    peered, _ = grants_of(
        rendering.render(rendering.scenario("peering-values.yaml")), "greenlight-operator"
    )
    assert (
        peered[("kopf.dev", "clusterkopfpeerings")]
        == OPERATOR_PEERING[("kopf.dev", "clusterkopfpeerings")]
    )
    plain, _ = grants_of(rendering.render(), "greenlight-operator")
    assert not any(group == "kopf.dev" for group, _ in plain)


def test_manifests_grant_what_the_chart_grants() -> None:
    rendered = tools.run("kubectl", "kustomize", "manifests")
    assert rendered.returncode == 0, rendered.output
    clusterwide, namespaced = grants_of(rendering.documents(rendered.stdout), "greenlight-operator")
    assert namespaced == {}
    assert clusterwide == _merge(OPERATOR_NEEDS, OPERATOR_CLUSTERWIDE)


def test_the_check_catches_an_extra_verb_and_a_wildcard() -> None:
    docs = rendering.render()
    role = rendering.one(docs, "ClusterRole", "greenlight-operator")
    role["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    role["rules"][2]["verbs"].append("delete")
    clusterwide, _ = grants_of(docs, "greenlight-operator")
    found = excess(clusterwide, _merge(OPERATOR_NEEDS, OPERATOR_CLUSTERWIDE))
    assert found == ["core/secrets: ['get']", "greenlight.dev/releases: ['delete']"]
    role["rules"].append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})
    with pytest.raises(AssertionError, match="wildcard"):
        grants_of(docs, "greenlight-operator")
