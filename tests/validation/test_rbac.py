"""The chart and the manifests grant exactly the rights Greenlight needs, compared with an
explicit allow-list: a new verb or resource must be added here, on purpose, with a reason."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.validation import rendering, tools

Grants = dict[tuple[str, str], set[str]]

# (apiGroup, resource) -> verbs: exactly the requests the operator makes (its own, in
# operator/greenlight/kube, and Kopf's), nothing more. Every entry is explained by a comment on
# its rule in charts/greenlight/templates/_rbac.tpl and manifests/rbac/operator.yaml.
OPERATOR_NEEDS: Grants = {
    # Kopf lists and watches Releases and patches finalizer/progress; the operator patches
    # away the annotation it acted on. No get: nothing reads one Release by name.
    ("greenlight.dev", "releases"): {"list", "watch", "patch"},
    # Status is merge-patched, never read or replaced.
    ("greenlight.dev", "releases/status"): {"patch"},
    # Listed (observe), read (before create and scale), created, patched, and watched by Kopf
    # (a deleted one is created again). Not updated or deleted.
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch"},
    # Revisions: listed, read, created, deleted (prune, replace). Not patched.
    ("apps", "controllerrevisions"): {"get", "list", "create", "delete"},
    # Services: read by name, created, selector patched, listed and watched by Kopf (a
    # deleted one is created again), deleted when a renamed spec.service left one behind.
    # Not updated.
    ("", "services"): {"get", "list", "watch", "create", "patch", "delete"},
    # EndpointSlices: listed by service-name label only.
    ("discovery.k8s.io", "endpointslices"): {"list"},
    # core/v1 Events posted by the operator and by Kopf. No patch, no events.k8s.io.
    ("", "events"): {"create"},
    # Kopf lists and watches CRDs (resources themselves come from discovery).
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
}
# Only in the namespaced mode (--namespace patterns): Kopf 1.45 lists and watches namespaces
# only when not cluster-wide (kopf/_core/reactor/observation.py, namespace_observer); with
# --all-namespaces it never touches them, so the cluster-wide mode must not grant them.
OPERATOR_NAMESPACED_MODE: Grants = {("", "namespaces"): {"list", "watch"}}
# Only with operator.probeVia=apiserver (GREENLIGHT_PROBE_VIA): gates GET through the API
# server's service proxy.
OPERATOR_PROXY: Grants = {("", "services/proxy"): {"get"}}
# Only with operator.peering.enabled.
OPERATOR_PEERING: Grants = {
    ("kopf.dev", "clusterkopfpeerings"): {"get", "list", "watch", "patch"},
    ("kopf.dev", "kopfpeerings"): {"get", "list", "watch", "patch"},
}
# Rights an earlier, broader RBAC granted that the operator does not use: each must be refused
# by the check if it ever comes back.
NOT_NEEDED: list[tuple[str, str, str]] = [
    ("", "pods", "get"),
    ("", "pods", "list"),
    ("apps", "deployments", "update"),
    ("apps", "deployments", "delete"),
    ("", "services", "update"),
    ("apps", "controllerrevisions", "patch"),
    ("greenlight.dev", "releases", "get"),
    ("greenlight.dev", "releases/status", "get"),
    ("greenlight.dev", "releases/status", "update"),
    ("discovery.k8s.io", "endpointslices", "get"),
    ("discovery.k8s.io", "endpointslices", "watch"),
    ("", "events", "patch"),
    ("events.k8s.io", "events", "create"),
    ("events.k8s.io", "events", "patch"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "get"),
    ("", "namespaces", "list"),
    ("", "namespaces", "watch"),
]
API_NEEDS: Grants = {
    ("authentication.k8s.io", "tokenreviews"): {"create"},
    ("authorization.k8s.io", "subjectaccessreviews"): {"create"},
    ("greenlight.dev", "releases"): {"get", "list", "watch", "patch"},
}
# The pre-delete hook (`python -m greenlight.uninstall`): in the release namespace it scales the
# operator's own Deployment (by name) to zero and lists the operator's pods until none is left;
# where the operator watches Releases it lists them and JSON-patches the finalizer away.
UNINSTALL_ACCOUNT = "greenlight-operator-uninstall"
UNINSTALL_RELEASE_NAMESPACE: Grants = {("apps", "deployments"): {"patch"}, ("", "pods"): {"list"}}
UNINSTALL_RELEASES: Grants = {("greenlight.dev", "releases"): {"list", "patch"}}


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


def uncommented_rules(text: str) -> list[str]:
    """The rules of the Roles and ClusterRoles in `text` (rendered YAML, comments kept) that
    have no comment line right above them; empty when every rule says why it is there."""
    found = []
    for doc in text.split("\n---"):
        if not any(line in {"kind: Role", "kind: ClusterRole"} for line in doc.splitlines()):
            continue
        lines = doc.splitlines()
        for index, line in enumerate(lines):
            if line.lstrip().startswith("- apiGroups:"):
                above = lines[index - 1].lstrip() if index else ""
                if not above.startswith("#"):
                    found.append(f"{line.strip()} {lines[index + 1].strip()}")
    return found


def test_clusterwide_operator_gets_exactly_what_it_needs() -> None:
    docs = rendering.render()
    clusterwide, namespaced = grants_of(docs, "greenlight-operator")
    assert namespaced == {}
    assert clusterwide == OPERATOR_NEEDS
    assert ("", "namespaces") not in clusterwide, "Kopf never lists namespaces with -A"


def test_api_service_gets_exactly_what_it_needs() -> None:
    clusterwide, namespaced = grants_of(rendering.render(), "greenlight-api")
    assert namespaced == {}
    assert clusterwide == API_NEEDS


def test_namespaced_mode_grants_namespaced_rights_per_namespace() -> None:
    docs = rendering.render(rendering.scenario("namespaced-values.yaml"))
    clusterwide, namespaced = grants_of(docs, "greenlight-operator")
    crds = ("apiextensions.k8s.io", "customresourcedefinitions")
    assert clusterwide == {crds: OPERATOR_NEEDS[crds], **OPERATOR_NAMESPACED_MODE}, (
        "only CRD and namespace reads are cluster-wide"
    )
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
    operator = rendering.one(docs, "Deployment", "greenlight-operator")
    args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    # Namespace reads are allowed only where Kopf runs with --namespace, not --all-namespaces.
    namespaced_mode = "--all-namespaces" not in args
    allowed = _merge(OPERATOR_NEEDS, OPERATOR_PROXY, OPERATOR_PEERING)
    if namespaced_mode:
        allowed = _merge(allowed, OPERATOR_NAMESPACED_MODE)
    for grants in grants_of(docs, "greenlight-operator"):
        assert excess(grants, allowed) == []
    for grants in grants_of(docs, "greenlight-api"):
        assert excess(grants, API_NEEDS) == []


@pytest.mark.parametrize("scenario", rendering.SCENARIOS)
def test_every_rule_says_why_it_is_there(scenario: str) -> None:
    text = rendering.template_text(rendering.scenario(scenario))
    assert text.returncode == 0, text.output
    assert uncommented_rules(text.stdout) == []


def test_every_manifest_rule_says_why_it_is_there() -> None:
    assert uncommented_rules((tools.ROOT / "manifests/rbac/operator.yaml").read_text()) == []


def test_the_comment_check_catches_a_bare_rule() -> None:
    text = rendering.template_text().stdout.replace(
        "rules:\n", 'rules:\n  - apiGroups: [""]\n    resources: ["secrets"]\n', 1
    )
    assert uncommented_rules(text) == ['- apiGroups: [""] resources: ["secrets"]']


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
    assert clusterwide == OPERATOR_NEEDS


@pytest.mark.parametrize(("group", "resource", "verb"), NOT_NEEDED)
def test_the_check_rejects_each_broader_grant(group: str, resource: str, verb: str) -> None:
    """A verb the operator does not use, granted again (on a resource it has rights on or a new
    one), fails both the allow-list and the exact comparison of the cluster-wide mode."""
    docs = rendering.render()
    role = rendering.one(docs, "ClusterRole", "greenlight-operator")
    role["rules"].append({"apiGroups": [group], "resources": [resource], "verbs": [verb]})
    clusterwide, _ = grants_of(docs, "greenlight-operator")
    assert excess(clusterwide, _merge(OPERATOR_NEEDS, OPERATOR_PROXY, OPERATOR_PEERING)) == [
        f"{group or 'core'}/{resource}: {[verb]}"
    ]
    assert clusterwide != OPERATOR_NEEDS


def test_the_check_catches_an_extra_verb_and_a_wildcard() -> None:
    docs = rendering.render()
    role = rendering.one(docs, "ClusterRole", "greenlight-operator")
    role["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    releases = next(rule for rule in role["rules"] if rule["resources"] == ["releases"])
    releases["verbs"].append("delete")
    clusterwide, _ = grants_of(docs, "greenlight-operator")
    found = excess(clusterwide, OPERATOR_NEEDS)
    assert found == ["core/secrets: ['get']", "greenlight.dev/releases: ['delete']"]
    role["rules"].append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})
    with pytest.raises(AssertionError, match="wildcard"):
        grants_of(docs, "greenlight-operator")


def test_uninstall_hook_gets_exactly_what_it_needs() -> None:
    docs = rendering.render()
    clusterwide, namespaced = grants_of(docs, UNINSTALL_ACCOUNT)
    assert clusterwide == UNINSTALL_RELEASES, "Releases everywhere the operator watches"
    assert namespaced == UNINSTALL_RELEASE_NAMESPACE
    role = rendering.one(docs, "Role", UNINSTALL_ACCOUNT)
    deployments = next(rule for rule in role["rules"] if rule["resources"] == ["deployments"])
    assert deployments["resourceNames"] == ["greenlight-operator"], "only the operator's own"


def test_namespaced_uninstall_hook_touches_only_watched_namespaces() -> None:
    docs = rendering.render(rendering.scenario("namespaced-values.yaml"))
    clusterwide, namespaced = grants_of(docs, UNINSTALL_ACCOUNT)
    assert clusterwide == {}
    assert namespaced == _merge(UNINSTALL_RELEASE_NAMESPACE, UNINSTALL_RELEASES)
    watched = {
        doc["metadata"]["namespace"]
        for doc in rendering.by_kind(docs, "Role")
        if doc["metadata"]["name"] == f"{UNINSTALL_ACCOUNT}-releases"
    }
    assert watched == {"greenlight-system", "shop"}


@pytest.mark.parametrize("scenario", rendering.SCENARIOS)
def test_no_scenario_grants_the_uninstall_hook_more(scenario: str) -> None:
    docs = rendering.render(rendering.scenario(scenario))
    for grants in grants_of(docs, UNINSTALL_ACCOUNT):
        assert excess(grants, _merge(UNINSTALL_RELEASE_NAMESPACE, UNINSTALL_RELEASES)) == []


def test_the_check_catches_a_broader_uninstall_hook() -> None:
    docs = rendering.render()
    role = rendering.one(docs, "ClusterRole", "greenlight-operator-uninstall-releases")
    role["rules"][0]["verbs"].append("delete")
    clusterwide, _ = grants_of(docs, UNINSTALL_ACCOUNT)
    assert excess(clusterwide, UNINSTALL_RELEASES) == ["greenlight.dev/releases: ['delete']"]
