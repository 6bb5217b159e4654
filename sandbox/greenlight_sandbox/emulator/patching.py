"""The three patch types of the Kubernetes API, applied to plain JSON-like dicts.

- JSON merge patch (RFC 7386, ``application/merge-patch+json``): dicts merge, ``null``
  removes a key, everything else (lists included) replaces.
- JSON patch (RFC 6902, ``application/json-patch+json``): add/remove/replace/move/copy/test;
  a failed ``test`` or a bad path is a 422, as in Kubernetes.
- Strategic merge patch (``application/strategic-merge-patch+json``, built-in types only):
  a merge patch where lists of objects with a merge key (``name`` for containers, env,
  volumes...; ``containerPort``/``port`` for ports; ``type`` for conditions) merge item by
  item, ``$patch: delete`` removes an item, and ``metadata.finalizers`` merges as a set.
"""

from __future__ import annotations

import copy
from typing import Any

from greenlight_sandbox.emulator.errors import ApiError

# Merge keys of the built-in types' lists, by field name. Lists not named here merge by
# "name" when every item on both sides is an object with a name; otherwise they replace.
_MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "ports": ("containerPort", "port"),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey",),
}
_SET_LISTS = frozenset({"finalizers"})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new value and never mutates its inputs."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON patch ----------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, tokens: list[str], path: str) -> Any:
    current = doc
    for token in tokens:
        if isinstance(current, dict):
            if token not in current:
                raise ApiError(422, f"the path {path!r} does not exist")
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(current, token, path, allow_end=False)]
        else:
            raise ApiError(422, f"the path {path!r} does not exist")
    return current


def _index(container: list[Any], token: str, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit():
        raise ApiError(422, f"invalid array index {token!r} in {path!r}")
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise ApiError(422, f"array index {index} out of bounds in {path!r}")
    return index


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return copy.deepcopy(value)
    parent = _walk(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), copy.deepcopy(value))
    else:
        raise ApiError(422, f"the path {path!r} does not exist")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        raise ApiError(422, "cannot remove the whole document")
    parent = _walk(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise ApiError(422, f"the path {path!r} does not exist")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, path, allow_end=False))
    raise ApiError(422, f"the path {path!r} does not exist")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch; returns a new document. Failures are 422 ``ApiError``s."""
    if not isinstance(operations, list):
        raise ApiError(400, "a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise ApiError(422, f"invalid JSON patch operation: {operation!r}")
        op, path = operation["op"], str(operation["path"])
        if op == "add":
            doc = _add(doc, path, operation.get("value"))
        elif op == "remove":
            doc, _ = _remove(doc, path)
        elif op == "replace":
            _walk(doc, _pointer(path), path)  # must exist
            if _pointer(path):
                doc, _ = _remove(doc, path)
            doc = _add(doc, path, operation.get("value"))
        elif op in ("move", "copy"):
            source = str(operation.get("from", ""))
            if op == "move":
                doc, value = _remove(doc, source)
            else:
                value = copy.deepcopy(_walk(doc, _pointer(source), source))
            doc = _add(doc, path, value)
        elif op == "test":
            actual = _walk(doc, _pointer(path), path)
            if actual != operation.get("value"):
                raise ApiError(
                    422,
                    f"the server rejected our request due to an error in our request: "
                    f"testing value {path} failed",
                )
        else:
            raise ApiError(422, f"unknown JSON patch operation: {op!r}")
    return doc


# --- Strategic merge patch -----------------------------------------------------------------


def _merge_key(field: str, base: list[Any], patch: list[Any]) -> str | None:
    items = [*base, *patch]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    candidates = _MERGE_KEYS.get(field, ("name",))
    for key in candidates:
        if all(key in item for item in patch if item.get("$patch") != "replace"):
            return key
    return None


def _strategic_list(field: str, base: Any, patch: list[Any]) -> list[Any]:
    if field in _SET_LISTS and isinstance(base, list):
        merged = list(base)
        merged.extend(item for item in patch if item not in merged)
        return copy.deepcopy(merged)
    base_list = base if isinstance(base, list) else []
    key = _merge_key(field, base_list, patch)
    if key is None:
        return copy.deepcopy([_strip_directives(item) for item in patch])
    result: list[Any] = copy.deepcopy(base_list)
    for item in patch:
        position = next(
            (i for i, existing in enumerate(result) if existing.get(key) == item.get(key)), None
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del result[position]
        elif position is None:
            result.append(_strip_directives(item))
        else:
            result[position] = strategic_merge_patch(result[position], item)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and not k.startswith("$setElementOrder/")
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A strategic merge patch as applied to built-in types (see the module docstring)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):  # $setElementOrder/..., $retainKeys, $patch: ordering hints
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _strategic_list(key, result.get(key), value)
        elif isinstance(value, dict):
            if value.get("$patch") == "delete":
                result.pop(key, None)
            else:
                result[key] = strategic_merge_patch(result.get(key), value)
        else:
            result[key] = value
    return result


MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def apply_patch(content_type: str, target: dict[str, Any], patch: Any, *, builtin: bool) -> Any:
    """Apply a patch of the given content type; 415 for types the resource does not accept."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == MERGE:
        return merge_patch(target, patch)
    if media == JSON:
        return json_patch(target, patch)
    if media == STRATEGIC and builtin:
        return strategic_merge_patch(target, patch)
    accepted = [JSON, MERGE, *([STRATEGIC] if builtin else [])]
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
    )
