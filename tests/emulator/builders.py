"""Minimal manifests for tests: a Deployment, a Service, a Release, a ConfigMap."""

from __future__ import annotations

import pathlib
from typing import Any

Obj = dict[str, Any]


def deployment(
    name: str,
    namespace: str = "default",
    *,
    labels: dict[str, str] | None = None,
    replicas: int = 1,
    image: str = "registry.example.com/web:1.0.0",
    port: int = 8000,
) -> Obj:
    pod_labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(pod_labels)},
            "template": {
                "metadata": {"labels": dict(pod_labels)},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "ports": [{"name": "http", "containerPort": port}],
                        }
                    ]
                },
            },
        },
    }


def service(
    name: str,
    namespace: str = "default",
    *,
    selector: dict[str, str] | None = None,
    port: int = 80,
    target_port: int | str = "http",
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": dict(selector or {"app": name}),
            "ports": [{"name": "http", "port": port, "targetPort": target_port}],
        },
    }


def release(name: str, namespace: str = "default", *, image: str = "web:1.0.0") -> Obj:
    return {
        "apiVersion": "greenlight.dev/v1alpha1",
        "kind": "Release",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def configmap(
    name: str, namespace: str = "default", *, labels: dict[str, str] | None = None, **data: str
) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}


RELEASE_CRD = pathlib.Path(__file__).parents[2] / "manifests/crds/releases.greenlight.dev.yaml"
RELEASES = ("greenlight.dev/v1alpha1", "releases")
DEPLOYMENTS = ("apps/v1", "deployments")
SERVICES = ("v1", "services")
CONFIGMAPS = ("v1", "configmaps")
