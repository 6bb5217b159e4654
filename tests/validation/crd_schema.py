"""Validates custom resources against a CRD's openAPIV3Schema, as the API server would.

The schema is turned into JSON Schema: `nullable: true` admits null, an object's unknown fields
are refused (the API server prunes them silently, which hides typos) except under
`x-kubernetes-preserve-unknown-fields`, and `x-kubernetes-int-or-string` admits either.
CEL rules (`x-kubernetes-validations`) are not evaluated here.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jsonschema
import yaml


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema equivalent of one structural OpenAPI v3 node (recursively)."""
    out: dict[str, Any] = {k: v for k, v in node.items() if not k.startswith("x-kubernetes")}
    out.pop("nullable", None)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in node:
        out["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(node["additionalProperties"])
    elif (
        node.get("type") == "object"
        and "properties" in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if isinstance(node.get("items"), dict):
        out["items"] = to_json_schema(node["items"])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def load_crd(path: pathlib.Path) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(path.read_text())
    return crd


def validator_for(crd: dict[str, Any], version: str | None = None) -> jsonschema.Draft7Validator:
    versions = crd["spec"]["versions"]
    chosen = next(v for v in versions if version is None or v["name"] == version)
    schema = to_json_schema(chosen["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def problems(crd: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    """Why `obj` would be refused by the CRD: empty when it is accepted."""
    spec = crd["spec"]
    expected_api = {f"{spec['group']}/{v['name']}" for v in spec["versions"] if v["served"]}
    found = []
    if obj.get("apiVersion") not in expected_api or obj.get("kind") != spec["names"]["kind"]:
        found.append(f"not a {spec['names']['kind']} of {sorted(expected_api)}")
        return found
    version = obj["apiVersion"].split("/")[-1]
    for error in validator_for(crd, version).iter_errors(obj):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{path}: {error.message}")
    return found
