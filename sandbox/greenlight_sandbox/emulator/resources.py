"""The resource types the emulated API server knows: built-ins and CRD-defined ones.

A :class:`ResourceType` is what discovery advertises and what the store keys objects by.
The :class:`Registry` holds the built-in types listed in the testing guide and the types
registered from ``CustomResourceDefinition`` objects as they are created or deleted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclasses.dataclass(frozen=True)
class ResourceType:
    """One served resource (one group/version/plural) and its discovery information."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    crd_name: str | None = None  # set for custom resources
    storage_version: str = ""  # the version objects are stored as; defaults to `version`

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def has_status(self) -> bool:
        """Whether ``status`` is a subresource (isolated from the main resource)."""
        return "status" in self.subresources

    @property
    def stored_as(self) -> str:
        return self.storage_version or self.version

    @property
    def storage_key(self) -> tuple[str, str]:
        """Objects are stored once per group/plural, whichever version they are served as."""
        return (self.group, self.plural)


def _builtin(
    api_version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    group, _, version = api_version.rpartition("/")
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        verbs=verbs,
        subresources=sub,
    )


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("v1", "namespaces", "Namespace", namespaced=False, short=("ns",), sub=("status",)),
    _builtin("v1", "pods", "Pod", short=("po",), sub=("status", "log"), categories=("all",)),
    _builtin(
        "v1", "services", "Service", short=("svc",), sub=("status", "proxy"), categories=("all",)
    ),
    _builtin("v1", "endpoints", "Endpoints", short=("ep",)),
    _builtin("v1", "events", "Event", short=("ev",)),
    _builtin("v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("v1", "secrets", "Secret"),
    _builtin("v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin(
        "apps/v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        sub=("status", "scale"),
        categories=("all",),
    ),
    _builtin("apps/v1", "replicasets", "ReplicaSet", short=("rs",), sub=("status",)),
    _builtin("apps/v1", "controllerrevisions", "ControllerRevision"),
    _builtin("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
    _builtin("events.k8s.io/v1", "events", "Event", short=("ev",)),
    _builtin("coordination.k8s.io/v1", "leases", "Lease"),
    _builtin(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        sub=("status",),
    ),
    _builtin(
        "authentication.k8s.io/v1",
        "tokenreviews",
        "TokenReview",
        namespaced=False,
        verbs=("create",),
    ),
    _builtin(
        "authorization.k8s.io/v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        namespaced=False,
        verbs=("create",),
    ),
    _builtin(
        "authorization.k8s.io/v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        namespaced=False,
        verbs=("create",),
    ),
    _builtin(
        "authorization.k8s.io/v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        verbs=("create",),
    ),
)

# Review resources are answered, never stored.
REVIEW_PLURALS = frozenset(
    {
        "tokenreviews",
        "subjectaccessreviews",
        "selfsubjectaccessreviews",
        "localsubjectaccessreviews",
    }
)


def types_from_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The resource types a ``CustomResourceDefinition`` serves (one per served version)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    kind = str(names.get("kind", ""))
    result: list[ResourceType] = []
    versions = spec.get("versions", [])
    storage = next((v["name"] for v in versions if v.get("storage")), None)
    storage = storage or (versions[0]["name"] if versions else "")
    for version in versions:
        if not version.get("served", True):
            continue
        subresources = tuple(sorted((version.get("subresources") or {}).keys()))
        result.append(
            ResourceType(
                group=str(spec.get("group", "")),
                version=str(version["name"]),
                plural=str(names.get("plural", "")),
                kind=kind,
                singular=str(names.get("singular") or kind.lower()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subresources,
                crd_name=str(crd.get("metadata", {}).get("name", "")),
                storage_version=str(storage),
            )
        )
    return result


class Registry:
    """All served resource types, looked up by (group, version, plural)."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._group_order: list[str] = []
        for rtype in BUILTINS:
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
        if rtype.group not in self._group_order:
            self._group_order.append(rtype.group)

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        """Unregister every type of a CRD; return the removed types."""
        removed = [t for t in self._types.values() if t.crd_name == crd_name]
        for rtype in removed:
            del self._types[(rtype.group, rtype.version, rtype.plural)]
        return removed

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rtype in self._types.values():
            if rtype.api_version == api_version and rtype.kind == kind:
                return rtype
        return None

    def versions_of(self, storage_key: tuple[str, str]) -> list[ResourceType]:
        return [t for t in self._types.values() if t.storage_key == storage_key]

    def groups(self) -> dict[str, list[str]]:
        """Group name -> its versions (the preferred one first), in registration order."""
        result: dict[str, list[str]] = {}
        for group in self._group_order:
            versions: list[str] = []
            for rtype in self._types.values():
                if rtype.group == group and rtype.version not in versions:
                    versions.append(rtype.version)
            if versions:
                result[group] = versions
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.group == group and t.version == version]

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))
