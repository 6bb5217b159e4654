"""Pod manifests and waits shared by the sandbox's tests."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from greenlight_sandbox.emulator import EmulatedCluster, wait_for

Obj = dict[str, Any]
PODS = ("v1", "pods")


def http_probe(path: str, **settings: int) -> Obj:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": 1, **settings}


def pod(
    name: str,
    *,
    image: str = "test/http:1",
    env: dict[str, str] | None = None,
    grace: int | None = None,
    **container: Any,
) -> Obj:
    """A Pod of one container ``app`` listening on port 8080 (named ``http``)."""
    body: Obj = {
        "name": "app",
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [{"name": key, "value": value} for key, value in (env or {}).items()],
        **container,
    }
    spec: Obj = {"containers": [body]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": spec,
    }


def get_pod(cluster: EmulatedCluster, name: str, namespace: str = "default") -> Obj | None:
    return cluster.get(*PODS, namespace, name)


def wait_pod(
    cluster: EmulatedCluster,
    name: str,
    predicate: Callable[[Obj], bool],
    timeout: float = 10.0,
    message: str = "",
) -> Obj:
    """The pod once ``predicate`` holds for it."""

    def check() -> Obj | None:
        current = get_pod(cluster, name)
        return current if current is not None and predicate(current) else None

    found = wait_for(check, timeout, message=message or f"pod {name}")
    assert found is not None
    return found


def condition(pod_obj: Obj, kind: str) -> str | None:
    for entry in (pod_obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return str(entry.get("status"))
    return None


def is_ready(pod_obj: Obj) -> bool:
    return condition(pod_obj, "Ready") == "True"


def container_status(pod_obj: Obj, index: int = 0) -> Obj:
    statuses = (pod_obj.get("status") or {}).get("containerStatuses") or [{}]
    return dict(statuses[index])


def fetch(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """The status and body of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def fetch_json(url: str) -> Any:
    status, body = fetch(url)
    assert status == 200, (status, body)
    return json.loads(body)


def deployment(
    name: str,
    *,
    replicas: int = 1,
    image: str = "test/http:1",
    env: dict[str, str] | None = None,
    grace: int | None = None,
    readiness_failures: int = 3,
    **spec: Any,
) -> Obj:
    """A Deployment of ``pod``'s container, ready once its ``/readyz`` answers."""
    readiness = http_probe("/readyz", failureThreshold=readiness_failures)
    template = pod(name, image=image, env=env, grace=grace, readinessProbe=readiness)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": template["spec"]},
            **spec,
        },
    }
