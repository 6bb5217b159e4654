"""The chart limits what the API's service account may do to a Release, and gives users a
right to act that is not the right to edit: a ValidatingAdmissionPolicy (the account may
change the three action annotations and nothing else) and ClusterRoles for `releases/actions`.

The API's RBAC holds `patch` on Releases, and a Release's pod template is run by the operator
with its own rights: without the policy, whoever took over the API's pod could run any pod
template (host namespaces, any service account) in any namespace through a Release."""

from __future__ import annotations

import pathlib

from tests.validation import rendering, tools

POLICY = "greenlight-api-actions-only"
API_ACCOUNT = f"system:serviceaccount:{tools.NAMESPACE}:greenlight-api"
ACTION_KEYS = ("greenlight.dev/promote", "greenlight.dev/abort", "greenlight.dev/rollback-to")


def _expressions(policy: rendering.Doc) -> list[str]:
    return [" ".join(v["expression"].split()) for v in policy["spec"]["validations"]]


def test_the_policy_binds_only_the_api_service_account() -> None:
    docs = rendering.render()
    policy = rendering.one(docs, "ValidatingAdmissionPolicy", POLICY)
    binding = rendering.one(docs, "ValidatingAdmissionPolicyBinding", POLICY)
    assert binding["spec"] == {"policyName": POLICY, "validationActions": ["Deny"]}
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert rule["apiGroups"] == ["greenlight.dev"]
    assert set(rule["resources"]) == {"releases", "releases/*"}
    assert {"CREATE", "UPDATE", "DELETE"} <= set(rule["operations"])
    (condition,) = spec["matchConditions"]
    assert condition["expression"] == f"request.userInfo.username == '{API_ACCOUNT}'"


def test_the_policy_keeps_everything_but_the_action_annotations() -> None:
    """Structural: each part of the Release the account must not change has its rule."""
    policy = rendering.one(rendering.render(), "ValidatingAdmissionPolicy", POLICY)
    (keys,) = policy["spec"]["variables"]
    assert keys["name"] == "actionKeys"
    assert keys["expression"] == "[" + ", ".join(f"'{k}'" for k in ACTION_KEYS) + "]"
    expressions = _expressions(policy)
    assert "request.operation == 'UPDATE' && request.subResource == ''" in expressions
    assert "object.spec == oldObject.spec" in expressions
    for field in ("labels", "finalizers"):
        assert (
            f"has(object.metadata.{field}) == has(oldObject.metadata.{field}) && "
            f"(!has(object.metadata.{field}) || "
            f"object.metadata.{field} == oldObject.metadata.{field})"
        ) in expressions
    (annotations,) = [e for e in expressions if "variables.actionKeys" in e]
    # Both directions: no other annotation added or changed, none removed.
    assert "object.metadata.annotations.all(k, k in variables.actionKeys ||" in annotations
    assert "oldObject.metadata.annotations.all(k, k in variables.actionKeys ||" in annotations
    assert "oldObject.metadata.annotations[k] == object.metadata.annotations[k]" in annotations
    for validation in policy["spec"]["validations"]:
        assert validation["message"].startswith("the Greenlight API may")


def test_the_policy_follows_the_release_namespace_and_account_name() -> None:
    docs = rendering.render(sets=("apiService.serviceAccount.name=releaser",))
    policy = rendering.one(docs, "ValidatingAdmissionPolicy", POLICY)
    (condition,) = policy["spec"]["matchConditions"]
    assert f":{tools.NAMESPACE}:releaser'" in condition["expression"]


def test_the_policy_is_a_value_and_on_by_default() -> None:
    off = rendering.render(sets=("apiService.admissionPolicy.enabled=false",))
    assert rendering.by_kind(off, "ValidatingAdmissionPolicy") == []
    assert rendering.by_kind(off, "ValidatingAdmissionPolicyBinding") == []
    no_api = rendering.render(sets=("apiService.enabled=false",))
    assert rendering.by_kind(no_api, "ValidatingAdmissionPolicy") == []
    for scenario in rendering.SCENARIOS:
        docs = rendering.render(rendering.scenario(scenario))
        assert len(rendering.by_kind(docs, "ValidatingAdmissionPolicy")) == 1, scenario


def test_the_policy_and_user_roles_are_valid_objects(tmp_path: pathlib.Path) -> None:
    rendered = rendering.template_text(
        sets=("apiService.userRoles.aggregate=false", "apiService.admissionPolicy.enabled=true")
    )
    assert rendered.returncode == 0, rendered.output
    assert "kind: ValidatingAdmissionPolicyBinding" in rendered.stdout
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered.stdout)
    result = tools.run(
        "kubernetes-validate", "--strict", "--quiet", "-k", tools.KUBERNETES_VERSION, out
    )
    assert result.returncode == 0, result.output
    assert "ERROR" not in result.output, result.output


def _rules(role: rendering.Doc) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in role["rules"]:
        assert rule["apiGroups"] == ["greenlight.dev"], rule
        for resource in rule["resources"]:
            found.setdefault(resource, set()).update(rule["verbs"])
    return found


def test_user_roles_grant_actions_without_the_right_to_edit() -> None:
    docs = rendering.render()
    viewer = rendering.one(docs, "ClusterRole", "greenlight-release-viewer")
    actor = rendering.one(docs, "ClusterRole", "greenlight-release-actor")
    assert _rules(viewer) == {"releases": {"get", "list", "watch"}}
    assert _rules(actor) == {
        "releases": {"get", "list", "watch"},
        "releases/actions": {"create"},
    }
    labels = actor["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in labels
    assert viewer["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    # Nothing the chart binds to the users' roles; nobody gets them without a binding.
    for binding in [
        *rendering.by_kind(docs, "RoleBinding"),
        *rendering.by_kind(docs, "ClusterRoleBinding"),
    ]:
        assert binding["roleRef"]["name"] not in {
            "greenlight-release-viewer",
            "greenlight-release-actor",
        }
    plain = rendering.render(sets=("apiService.userRoles.aggregate=false",))
    actor = rendering.one(plain, "ClusterRole", "greenlight-release-actor")
    assert not any(k.startswith("rbac.authorization.k8s.io/") for k in actor["metadata"]["labels"])
    none = rendering.render(sets=("apiService.userRoles.enabled=false",))
    assert [
        r for r in rendering.by_kind(none, "ClusterRole") if "release-" in r["metadata"]["name"]
    ] == []
