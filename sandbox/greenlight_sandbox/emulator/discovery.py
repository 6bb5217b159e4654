"""API discovery documents: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<g>[/<v>]``.

They are rendered from the :class:`Registry`, so CRDs appear as soon as they are created.
Subresources are listed as ``<plural>/<sub>`` entries, which is how Kopf's scanner and
kubectl learn that ``status`` is a separate endpoint.
"""

from __future__ import annotations

from typing import Any

from greenlight_sandbox.emulator.errors import ApiError
from greenlight_sandbox.emulator.resources import Registry, ResourceType

SERVER_VERSION: dict[str, str] = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-emulated",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _subresource_kind(rtype: ResourceType, sub: str) -> tuple[str, str, tuple[str, ...]]:
    if sub == "scale":
        return "Scale", "autoscaling", ("get", "patch", "update")
    if sub == "log":
        return "Pod", "", ("get",)
    if sub == "proxy":
        return "ServiceProxyOptions", "", ("create", "delete", "get", "patch", "update")
    return rtype.kind, "", ("get", "patch", "update")


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any]:
    types = registry.in_group_version(group, version)
    if not types:
        raise ApiError(404, "the server could not find the requested resource")
    resources: list[dict[str, Any]] = []
    for rtype in types:
        resources.append(
            {
                "name": rtype.plural,
                "singularName": rtype.singular,
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": list(rtype.verbs),
                **({"shortNames": list(rtype.short_names)} if rtype.short_names else {}),
                **({"categories": list(rtype.categories)} if rtype.categories else {}),
            }
        )
        for sub in rtype.subresources:
            kind, sub_group, verbs = _subresource_kind(rtype, sub)
            entry: dict[str, Any] = {
                "name": f"{rtype.plural}/{sub}",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
            if sub_group:
                entry["group"] = sub_group
                entry["version"] = "v1"
            resources.append(entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def core_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_doc(name: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]},
    }


def group_list(registry: Registry) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            _group_doc(name, versions) for name, versions in registry.groups().items() if name
        ],
    }


def group(registry: Registry, name: str) -> dict[str, Any]:
    versions = registry.groups().get(name)
    if not name or not versions:
        raise ApiError(404, "the server could not find the requested resource")
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(name, versions)}


def root_paths(registry: Registry) -> dict[str, Any]:
    paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"}
    for name, versions in registry.groups().items():
        if name:
            paths.add(f"/apis/{name}")
            paths.update(f"/apis/{name}/{v}" for v in versions)
    return {"paths": sorted(paths)}


def serve(registry: Registry, path: str) -> dict[str, Any] | str | None:
    """The discovery document for a GET of ``path``, or None if it is not a discovery path."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return root_paths(registry)
    if parts == ["version"]:
        return dict(SERVER_VERSION)
    if parts[0] in ("healthz", "livez", "readyz") and len(parts) == 1:
        return "ok"
    if parts == ["api"]:
        return core_versions()
    if parts[0] == "api" and len(parts) == 2:
        return resource_list(registry, "", parts[1])
    if parts == ["apis"]:
        return group_list(registry)
    if parts[0] == "apis" and len(parts) == 2:
        return group(registry, parts[1])
    if parts[0] == "apis" and len(parts) == 3:
        return resource_list(registry, parts[1], parts[2])
    return None
