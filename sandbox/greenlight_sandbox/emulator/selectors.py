"""Label and field selectors, parsed once and matched against objects.

Label selectors support what ``kubectl`` and the clients send: ``a=b``, ``a==b``, ``a!=b``,
``a`` (exists), ``!a`` (does not exist), ``a in (x,y)`` and ``a notin (x,y)``, joined with
commas (all must hold). Field selectors support ``path=value``, ``path==value`` and
``path!=value`` for dotted paths such as ``metadata.name`` or ``involvedObject.name``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from greenlight_sandbox.emulator.errors import ApiError

_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\((.*)\)\s*$")
_KEY_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$")


@dataclasses.dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        # "!=" and "notin" match objects without the label too, as in Kubernetes.
        return not present or value not in self.values


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _check_key(key: str, selector: str) -> str:
    if not _KEY_RE.match(key):
        raise ApiError(
            400, f"unable to parse requirement: invalid label key {key!r} in {selector!r}"
        )
    return key


def parse_label_selector(selector: str | None) -> tuple[Requirement, ...]:
    """Parse a label selector string; an empty or absent one selects everything."""
    if not selector:
        return ()
    requirements: list[Requirement] = []
    for part in _split_top_level(selector):
        set_match = _SET_RE.match(part)
        if set_match:
            key, op, raw_values = set_match.groups()
            values = frozenset(v.strip() for v in raw_values.split(",") if v.strip())
            requirements.append(Requirement(_check_key(key, selector), op, values))
        elif "!=" in part:
            key, value = part.split("!=", 1)
            requirements.append(
                Requirement(_check_key(key.strip(), selector), "!=", frozenset({value.strip()}))
            )
        elif "==" in part or "=" in part:
            key, value = part.split("==", 1) if "==" in part else part.split("=", 1)
            requirements.append(
                Requirement(_check_key(key.strip(), selector), "=", frozenset({value.strip()}))
            )
        elif part.startswith("!"):
            requirements.append(Requirement(_check_key(part[1:].strip(), selector), "!exists"))
        else:
            requirements.append(Requirement(_check_key(part, selector), "exists"))
    return tuple(requirements)


def labels_match(requirements: tuple[Requirement, ...], obj: Mapping[str, Any]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(req.matches(labels) for req in requirements)


def selector_from_dict(match_labels: Mapping[str, str]) -> tuple[Requirement, ...]:
    """The requirements of a plain ``{key: value}`` selector (as in a Service)."""
    return tuple(Requirement(k, "=", frozenset({v})) for k, v in match_labels.items())


@dataclasses.dataclass(frozen=True)
class FieldRequirement:
    path: tuple[str, ...]
    negated: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        current: Any = obj
        for step in self.path:
            current = current.get(step) if isinstance(current, Mapping) else None
        actual = "" if current is None else str(current)
        if isinstance(current, bool):
            actual = str(current).lower()
        return (actual != self.value) if self.negated else (actual == self.value)


def parse_field_selector(selector: str | None) -> tuple[FieldRequirement, ...]:
    """Parse a field selector string; an empty or absent one selects everything."""
    if not selector:
        return ()
    requirements: list[FieldRequirement] = []
    for part in _split_top_level(selector):
        if "!=" in part:
            path, value = part.split("!=", 1)
            negated = True
        elif "==" in part:
            path, value = part.split("==", 1)
            negated = False
        elif "=" in part:
            path, value = part.split("=", 1)
            negated = False
        else:
            raise ApiError(400, f"invalid field selector: {selector!r}")
        requirements.append(
            FieldRequirement(tuple(path.strip().split(".")), negated, value.strip())
        )
    return tuple(requirements)


def fields_match(requirements: tuple[FieldRequirement, ...], obj: Mapping[str, Any]) -> bool:
    return all(req.matches(obj) for req in requirements)


@dataclasses.dataclass(frozen=True)
class Selection:
    """What a list or watch request selects: namespace, labels and fields."""

    namespace: str | None = None
    labels: tuple[Requirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        namespace = obj.get("metadata", {}).get("namespace")
        if self.namespace is not None and namespace != self.namespace:
            return False
        return labels_match(self.labels, obj) and fields_match(self.fields, obj)
