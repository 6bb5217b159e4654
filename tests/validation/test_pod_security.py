"""Every pod the chart and the manifests run meets the "restricted" Pod Security Standard."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.validation import pod_security, rendering, tools


@pytest.mark.parametrize("scenario", rendering.SCENARIOS)
def test_chart_pods_are_restricted(scenario: str) -> None:
    specs = list(rendering.pod_specs(rendering.render(rendering.scenario(scenario))))
    # The Job is the pre-delete hook (`helm uninstall`): it runs the operator's image too.
    assert {where.split("/")[0] for where, _ in specs} == {"Deployment", "Release", "Job"}
    for where, spec in specs:
        assert pod_security.violations(spec) == [], where
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert "limits" in container["resources"], where


def test_manifest_pods_are_restricted() -> None:
    rendered = tools.run("kubectl", "kustomize", "manifests")
    assert rendered.returncode == 0, rendered.output
    specs = list(rendering.pod_specs(rendering.documents(rendered.stdout)))
    assert [where for where, _ in specs] == ["Deployment/greenlight-operator"]
    for where, spec in specs:
        assert pod_security.violations(spec) == [], where


def test_example_releases_are_restricted_where_they_say_so() -> None:
    path = tools.ROOT / "manifests" / "examples" / "web.yaml"
    (release,) = rendering.load_yaml_file(path)
    spec = release["spec"]["template"]["spec"]
    assert pod_security.violations(spec) == []


def _restricted_pod() -> rendering.Doc:
    docs = rendering.render()
    spec: rendering.Doc = rendering.one(docs, "Deployment")["spec"]["template"]["spec"]
    return copy.deepcopy(spec)


BREAKAGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "hostNetwork is true": lambda s: s.update(hostNetwork=True),
    "hostPID is true": lambda s: s.update(hostPID=True),
    "has type ['hostPath']": lambda s: s["volumes"].append(
        {"name": "root", "hostPath": {"path": "/"}}
    ),
    "privileged": lambda s: s["containers"][0]["securityContext"].update(privileged=True),
    "allowPrivilegeEscalation is not false": lambda s: s["containers"][0]["securityContext"].pop(
        "allowPrivilegeEscalation"
    ),
    "do not drop ALL": lambda s: s["containers"][0]["securityContext"].update(
        capabilities={"drop": ["NET_RAW"]}
    ),
    "adds capabilities ['SYS_ADMIN']": lambda s: s["containers"][0]["securityContext"][
        "capabilities"
    ].update(add=["SYS_ADMIN"]),
    "runAsNonRoot is not true": lambda s: (
        s["securityContext"].pop("runAsNonRoot"),
        s["containers"][0]["securityContext"].pop("runAsNonRoot"),
    ),
    "runAsUser is 0": lambda s: s["securityContext"].update(runAsUser=0),
    "seccompProfile is Unconfined": lambda s: s["containers"][0]["securityContext"].update(
        seccompProfile={"type": "Unconfined"}
    ),
    "hostPort 8080": lambda s: s["containers"][0]["ports"][0].update(hostPort=8080),
    "sysctl 'kernel.msgmax' is not safe": lambda s: s["securityContext"].update(
        sysctls=[{"name": "kernel.msgmax", "value": "1"}]
    ),
}


@pytest.mark.parametrize("complaint", sorted(BREAKAGES))
def test_the_check_catches_each_breakage(complaint: str) -> None:
    spec = _restricted_pod()
    assert pod_security.violations(spec) == []
    BREAKAGES[complaint](spec)
    found = pod_security.violations(spec)
    assert any(complaint in problem for problem in found), found
