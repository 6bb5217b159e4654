"""Generates the `Release` CustomResourceDefinition from the models in `greenlight.models`.

`python -m greenlight.crd` prints the CRD as YAML; `make crd` writes it to
`manifests/crds/releases.greenlight.dev.yaml`, and `python -m greenlight.crd --helm` prints the
chart's copy. Tests compare the committed files with this output, so the models and the CRD
cannot drift apart.

Pydantic's JSON Schema is close to what Kubernetes wants but not structural: it uses `$ref`,
`anyOf` with `null` for optional fields, `title`s, and tuple forms. `structural()` rewrites it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pydantic
import yaml

from greenlight import models

CRD_NAME = f"{models.PLURAL}.{models.GROUP}"

# Keys of JSON Schema that a structural Kubernetes schema understands and we keep.
_KEPT_KEYS = {
    "type",
    "description",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "enum",
    "format",
}


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Rewrites one pydantic JSON Schema node into a structural OpenAPI v3 node."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)

    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        outer = {k: v for k, v in schema.items() if k != "anyOf"}
        if schema.get("x-kubernetes-int-or-string"):
            # int | str: Kubernetes spells it with its own extension and no type.
            kept = structural({k: v for k, v in outer.items() if k != "type"}, defs)
            kept.pop("type", None)
            return kept
        if len(branches) != 1:
            raise ValueError(f"cannot express a union in a structural schema: {schema}")
        inner = structural(branches[0], defs)
        # The field's own description and default win over the referenced model's.
        for key, value in outer.items():
            if key in _KEPT_KEYS or key.startswith("x-kubernetes"):
                inner[key] = value
        if outer.get("default", ...) is None:
            inner.pop("default")
        return inner

    out: dict[str, Any] = {
        k: v for k, v in schema.items() if k in _KEPT_KEYS or k.startswith("x-kubernetes")
    }
    if out.get("default", ...) is None:
        out.pop("default")
    if "description" in out:
        # Docstrings wrap for the source; the schema wants one flowing paragraph.
        out["description"] = " ".join(out["description"].split())
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        out["type"] = "object"
        props = schema.get("properties", {})
        if props:
            out["properties"] = {name: structural(sub, defs) for name, sub in props.items()}
        required = [r for r in schema.get("required", []) if "default" not in props.get(r, {})]
        if required:
            out["required"] = required
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra and not props:
            out["additionalProperties"] = structural(extra, defs)
        if schema.get("x-kubernetes-preserve-unknown-fields") or (extra is True and not props):
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array":
        out["items"] = structural(schema.get("items", {}), defs)
    return out


def _schema_of(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


def release_crd() -> dict[str, Any]:
    """The full CRD object, ready to apply."""
    spec_schema = _schema_of(models.ReleaseSpec)
    spec_schema["description"] = "What to release and how to gate it."
    spec_schema["properties"]["template"] = _pod_template_schema(
        spec_schema["properties"]["template"]
    )
    status_schema = _schema_of(models.ReleaseStatus)
    status_schema["description"] = "Written by the operator only."
    # Defaults make no sense for status (the operator writes every field it owns).
    _strip_defaults(status_schema)

    printer_columns = [
        {
            "name": "Phase",
            "type": "string",
            "jsonPath": ".status.phase",
            "description": "Where the release is.",
        },
        {
            "name": "Active",
            "type": "string",
            "jsonPath": ".status.activeColor",
            "description": "The colour receiving traffic.",
        },
        {
            "name": "Revision",
            "type": "integer",
            "jsonPath": ".status.currentRevision",
            "description": "The revision being released.",
        },
        {
            "name": "Image",
            "type": "string",
            "jsonPath": ".spec.template.spec.containers[0].image",
            "description": "The first container's image.",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {"app.kubernetes.io/part-of": "greenlight"},
        },
        "spec": {
            "group": models.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": models.KIND,
                "plural": models.PLURAL,
                "singular": models.SINGULAR,
                "listKind": f"{models.KIND}List",
                "shortNames": list(models.SHORT_NAMES),
                "categories": ["all", "greenlight"],
            },
            "versions": [
                {
                    "name": models.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A blue-green release of one workload: Greenlight "
                            "brings up the new colour, gates it on health, moves the Service, "
                            "keeps the old colour warm and moves traffic back on failure.",
                            "required": ["spec"],
                            "x-kubernetes-validations": [
                                {
                                    "rule": "self.metadata.name.size() <= "
                                    f"{models.MAX_RELEASE_NAME}",
                                    "message": "metadata.name must be at most "
                                    f"{models.MAX_RELEASE_NAME} characters, so that the "
                                    "preview Service <name>-preview is a valid name",
                                }
                            ],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def _pod_template_schema(template: dict[str, Any]) -> dict[str, Any]:
    """Enough of a PodTemplateSpec's shape to catch an empty template at admission.

    The rest is left to Kubernetes, which validates the pods when the Deployment creates them.
    """
    loose = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        **template,
        "required": ["spec"],
        "properties": {
            "metadata": {**loose, "description": "Labels and annotations for the pods."},
            "spec": {
                **loose,
                "description": "The pod spec, as in a Deployment.",
                "required": ["containers"],
                "properties": {
                    "containers": {
                        "type": "array",
                        "minItems": 1,
                        "description": "The pod's containers; the first one's first port is "
                        "the default `spec.service.targetPort`.",
                        "items": {**loose, "required": ["name", "image"]},
                    }
                },
            },
        },
    }


def _strip_defaults(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("default", None)
        for value in node.values():
            _strip_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _strip_defaults(value)


HEADER = "# Generated from operator/greenlight/models/ by `make crd`: edit the models.\n"


def render() -> str:
    return HEADER + yaml.safe_dump(release_crd(), sort_keys=False, width=100)


# The chart's copy: `{{- if .Values.crds.install }}` around it, and kept on `helm uninstall`
# while `crds.keep` is true, so that removing the chart never deletes every Release (and,
# through their ownerReferences, every workload they run).
HELM_NOTE = (
    "# The chart's copy of manifests/crds/releases.greenlight.dev.yaml (kept equal by a test).\n"
)
HELM_KEEP = (
    "metadata:\n"
    "  {{- if .Values.crds.keep }}\n"
    "  annotations:\n"
    "    helm.sh/resource-policy: keep\n"
    "  {{- end }}\n"
)


def render_helm() -> str:
    """The CRD as the chart's template `templates/crds/releases.greenlight.dev.yaml`."""
    body = yaml.safe_dump(release_crd(), sort_keys=False, width=100)
    if "{{" in body:
        raise ValueError("the CRD contains `{{`, which Helm would read as a template action")
    body = body.replace("metadata:\n", HELM_KEEP, 1)
    return "{{- if .Values.crds.install }}\n" + HEADER + HELM_NOTE + body + "{{- end }}\n"


def main(argv: list[str] | None = None) -> None:
    """`python -m greenlight.crd [--helm]`: prints the CRD, or the chart's copy with `--helm`."""
    parser = argparse.ArgumentParser(
        prog="python -m greenlight.crd", description="Prints the Release CRD as YAML."
    )
    parser.add_argument(
        "--helm",
        action="store_true",
        help="print the chart's copy (behind crds.install, kept on uninstall by crds.keep)",
    )
    args = parser.parse_args(argv)
    sys.stdout.write(render_helm() if args.helm else render())


if __name__ == "__main__":
    main()
