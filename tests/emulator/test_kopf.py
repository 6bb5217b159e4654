"""A tiny real Kopf operator against the emulator: the create handler runs exactly once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import kopf
import pytest

from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from tests.component.harness import operate
from tests.emulator.builders import RELEASE_CRD, RELEASES, release


class OperatorThread:
    """Kopf in its own thread with its own event loop, stoppable from the test."""

    def __init__(self, registry: kopf.OperatorRegistry) -> None:
        self.registry = registry
        self.ready = threading.Event()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kopf-operator", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(operate(self.registry, ready=self.ready, stop=self.stop_flag))
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def __enter__(self) -> OperatorThread:
        self.thread.start()
        assert self.ready.wait(10), "the operator did not start"
        assert self.error is None, self.error
        return self

    def __exit__(self, *_: object) -> None:
        self.stop_flag.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the operator did not stop"


@pytest.fixture()
def crd_cluster(kube_cluster: EmulatedCluster) -> Iterator[EmulatedCluster]:
    kube_cluster.apply_crd(RELEASE_CRD)
    yield kube_cluster


def test_kopf_create_handler_runs_exactly_once(crd_cluster: EmulatedCluster) -> None:
    registry = kopf.OperatorRegistry()
    calls: list[str] = []
    url = crd_cluster.url

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, token="admin-token", scheme="Bearer")

    @kopf.on.create("greenlight.dev", "v1alpha1", "releases", id="created", registry=registry)
    def created(name: str, body: kopf.Body, **_: Any) -> str:
        calls.append(name)
        kopf.info(body, reason="Created", message=f"created {name}")  # Events: generateName
        return name

    def handled(name: str) -> bool:
        obj = crd_cluster.get(*RELEASES, "shop", name)
        return bool(obj and (obj.get("status") or {}).get("created") == name)

    # One object exists before the operator starts (seen in its initial listing), others
    # arrive while it runs (seen in its watch stream, which must not replay the listing).
    crd_cluster.create(release("early", "shop"))
    with OperatorThread(registry):
        crd_cluster.create(release("late", "shop"))
        wait_for(lambda: handled("early") and handled("late"), timeout=5)
        crd_cluster.create(release("marker", "shop"))
        wait_for(lambda: handled("marker"), timeout=5)
        wait_for(lambda: len(crd_cluster.list("v1", "events", "shop")) >= 3, timeout=5)

    assert sorted(calls) == ["early", "late", "marker"]
    assert [r for r in crd_cluster.requests if r.status >= 400] == []
    watches = [r for r in crd_cluster.requests if r.query.get("watch") == "true"]
    assert any(r.path.endswith("/releases") and r.query.get("resourceVersion") for r in watches)
