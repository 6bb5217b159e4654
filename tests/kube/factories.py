"""Releases and targets for the adapter tests."""

from __future__ import annotations

from typing import Any

from greenlight import models, naming
from greenlight.kube.target import ReleaseTarget

RELEASES = ("greenlight.dev/v1alpha1", "releases")


def template(image: str = "web:1", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web", **labels}},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": image,
                    "ports": [{"containerPort": 8000}],
                    "env": [{"name": "LOG_LEVEL", "value": "info"}],
                }
            ]
        },
    }


def release_body(
    name: str = "web", namespace: str = "shop", *, image: str = "web:1", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": models.API_VERSION,
        "kind": models.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": template(image), **spec},
    }


def target_of(release: dict[str, Any], *, target_port: int | str = 8000) -> ReleaseTarget:
    """The target the handlers would build for a stored Release."""
    metadata = release["metadata"]
    spec = models.ReleaseSpec.model_validate(release["spec"])
    name = metadata["name"]
    return ReleaseTarget(
        namespace=metadata["namespace"],
        name=name,
        uid=metadata.get("uid", "uid-of-" + name),
        generation=int(metadata.get("generation", 1)),
        spec=spec,
        template=dict(release["spec"]["template"]),
        active_service=naming.active_service_name(name, spec),
        preview_service=naming.preview_service_name(name, spec),
        service_port=spec.service.port,
        target_port=target_port,
    )
