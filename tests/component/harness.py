"""Runs the real operator against the emulated API server, and fakes what a cluster would do.

- `RunningOperator` runs `kopf.operator()` with the operator's real handlers (registered in a
  fresh registry with a fast tick) in its own thread with its own event loop, as testing.md
  prescribes, and stops it cleanly.
- `FakeApps` answers the API server's service proxy the way the released pods would: it looks
  up which colour a Service selects and which image that colour runs, and answers 200 or 503
  depending on whether the scenario made that image unhealthy.
- `assert_traffic_invariant` walks every stored version of the active Service and the two
  Deployments, in the order they were written, and asserts invariant 1 of the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import kopf
from kopf._cogs.structs.credentials import Vault  # the type of kopf.operator()'s `vault`

from greenlight import models
from greenlight.handlers import kopf_handlers
from greenlight.settings import OperatorSettings, ProbeVia
from greenlight_sandbox.emulator import EmulatedCluster

NAMESPACE = "shop"
CRD_PATH = "manifests/crds/releases.greenlight.dev.yaml"


def release(
    name: str = "web",
    image: str = "web:1",
    *,
    namespace: str = NAMESPACE,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": models.API_VERSION,
        "kind": models.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "ports": [{"containerPort": 8000}]}
                    ]
                },
            },
            **spec,
        },
    }


async def operate(
    registry: kopf.OperatorRegistry,
    *,
    memo: kopf.Memo | None = None,
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    """`kopf.operator()` embedded in a test: cluster-wide, without peering, until `stop`."""
    vault = Vault()
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=True,
            memo=memo,
            vault=vault,
            ready_flag=ready,
            stop_flag=stop,
        )
    finally:
        # Kopf closes its vault's API sessions before it stops its core tasks; a request one
        # of them starts in between (the API scan of an operator stopped right after it
        # started) opens a session that nobody closes, and the garbage collector's
        # ResourceWarning then fails whichever test runs next. Closing again closes that one.
        await vault.close()


class RunningOperator:
    """The operator, in a thread of its own, until the `with` block ends."""

    def __init__(self, cluster: EmulatedCluster, **settings: Any) -> None:
        self.cluster = cluster
        self.settings = OperatorSettings(
            probe_via=ProbeVia.APISERVER,
            tick_seconds=0.05,
            metrics_port=0,
            api_retry_base_seconds=0.01,
            api_timeout_seconds=2.0,
            **settings,
        )
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="operator", daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        registry = kopf.OperatorRegistry()
        kopf_handlers.register(
            registry, self.settings, kubeconfig=str(self.cluster.kubeconfig_path)
        )
        memo = kopf.Memo()
        try:
            asyncio.run(operate(registry, memo=memo, ready=self._ready, stop=self._stop))
        except BaseException as error:  # reported to the test, not swallowed
            self.error = error
        finally:
            executor = memo.get("executor")
            if executor is not None:
                executor.shutdown(wait=True)
            # Its pooled connections would otherwise be closed by the garbage collector, as
            # a ResourceWarning in whichever test runs then.
            api_client = memo.get("api_client")
            if api_client is not None:
                api_client.close()

    def __enter__(self) -> RunningOperator:
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("the operator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)
        assert not self._thread.is_alive(), "the operator did not stop"
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def running_operator(cluster: EmulatedCluster, **settings: Any) -> Iterator[RunningOperator]:
    with RunningOperator(cluster, **settings) as operator:
        yield operator


class FakeApps:
    """The workloads behind the Services, as seen through the API server's service proxy."""

    def __init__(self, cluster: EmulatedCluster) -> None:
        self.cluster = cluster
        self.unhealthy_images: set[str] = set()
        self.probes: list[tuple[str, str, str]] = []  # (service, image, path)
        self._lock = threading.Lock()
        cluster.set_service_proxy(self.answer)

    def answer(
        self, namespace: str, service: str, port: str | None, path: str
    ) -> tuple[int, str] | None:
        svc = self.cluster.get("v1", "services", namespace, service)
        if svc is None:
            return (404, f"services {service!r} not found")
        selector = svc["spec"].get("selector") or {}
        release_name = selector.get(models.LABEL_RELEASE)
        color = selector.get(models.LABEL_COLOR)
        deployment = self.cluster.get(
            "apps/v1", "deployments", namespace, f"{release_name}-{color}"
        )
        ready = (deployment or {}).get("status", {}).get("readyReplicas", 0)
        if not deployment or not ready:
            return None  # no endpoints: the emulator answers 503 as a real API server would
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        with self._lock:
            self.probes.append((service, image, path))
            healthy = image not in self.unhealthy_images
        return (200, "ok") if healthy else (503, "unhealthy")


def set_image(cluster: EmulatedCluster, image: str, name: str = "web") -> None:
    """Changes the first container's image, as editing the Release and applying it would."""
    body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, name)
    assert body is not None, f"no Release {name}"
    template = body["spec"]["template"]
    template["spec"]["containers"][0]["image"] = image
    cluster.patch(
        models.API_VERSION, models.PLURAL, NAMESPACE, name, {"spec": {"template": template}}
    )


def status_of(
    cluster: EmulatedCluster, name: str = "web", namespace: str = NAMESPACE
) -> models.ReleaseStatus:
    body = cluster.get(models.API_VERSION, models.PLURAL, namespace, name) or {}
    return models.ReleaseStatus.model_validate(body.get("status") or {})


def releases_ever_stored(cluster: EmulatedCluster) -> list[tuple[str, str]]:
    """(namespace, name) of every Release the emulated cluster ever stored, deleted ones too."""
    found = []
    for resource, namespace, name in list(cluster.emulator.store.objects.keys()):
        if resource.group == models.GROUP and resource.plural == models.PLURAL:
            found.append((str(namespace), str(name)))
    return found


def assert_invariants_for_every_release(cluster: EmulatedCluster) -> None:
    """Invariant 1 over the whole history of every Release's active Service."""
    for namespace, name in releases_ever_stored(cluster):
        service = name
        for version in cluster.history(models.API_VERSION, models.PLURAL, namespace, name):
            service = (version.get("spec", {}).get("service") or {}).get("name") or service
        assert_traffic_invariant(cluster, name, namespace, service)


def _rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def assert_traffic_invariant(
    cluster: EmulatedCluster,
    name: str = "web",
    namespace: str = NAMESPACE,
    service: str | None = None,
) -> None:
    """Invariant 1: the active Service never selects a colour without ready pods, and never
    selects nothing once a first release succeeded.

    A Deployment deleted from under the Service (the operator never deletes one: a scenario
    did) leaves its colour without pods until the operator has created it again and it is
    ready; that window is excused, but the Service must not be written to select a colour
    without ready pods in it either.
    """
    service = service or name
    timeline: list[tuple[int, str, dict[str, Any]]] = []
    for version in cluster.history("v1", "services", namespace, service):
        timeline.append((_rv(version), "service", version))
    for color in models.Color:
        for version in cluster.history("apps/v1", "deployments", namespace, f"{name}-{color}"):
            timeline.append((_rv(version), str(color), version))
    timeline.sort(key=lambda item: item[0])
    ready: dict[str, int] = {}
    uids: dict[str, str] = {}
    deleted_under_us: set[str] = set()
    selected: str | None = None
    problems: list[str] = []
    for rv, kind, obj in timeline:
        if kind == "service":
            selected = (obj["spec"].get("selector") or {}).get(models.LABEL_COLOR)
            if selected is None and ready:
                problems.append(f"rv {rv}: the active Service selects nothing")
        else:
            uid = obj["metadata"].get("uid", "")
            if uids.get(kind) not in (None, uid):
                deleted_under_us.add(kind)  # a new incarnation: the previous one was deleted
            uids[kind] = uid
            ready[kind] = int((obj.get("status") or {}).get("readyReplicas") or 0)
            if obj["metadata"].get("deletionTimestamp"):
                ready[kind] = 0
            if ready[kind]:
                deleted_under_us.discard(kind)
            elif kind in deleted_under_us:
                continue
        if selected is not None and not ready.get(selected):
            problems.append(
                f"rv {rv}: the active Service selects {selected}, which has no ready pods"
            )
    assert problems == [], problems
