"""The reactive loop of the fake controllers: watch Deployments and Services, react.

A :class:`~greenlight_sandbox.informer.ControllerThread` (its own thread, loop and watches)
that calls the synchronous
:class:`~greenlight_sandbox.emulator.controllers.FakeControllers` methods in worker
threads. Reactions:

- a Deployment added or changed and not rolled out -> marked ready (``auto_ready``);
- a Deployment or a Service added, changed or deleted -> the EndpointSlices of the affected
  Services are rewritten ``lag_seconds`` later (``auto_endpoints``), like kube-proxy lag.

Errors are kept in :attr:`BackgroundControllers.errors` (404/409 races are expected and
ignored). :meth:`BackgroundControllers.wait_idle` waits until nothing is pending.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from greenlight_sandbox.emulator.controllers import is_rolled_out, selects
from greenlight_sandbox.informer import ControllerThread, Key, key_of

if TYPE_CHECKING:
    from greenlight_sandbox.emulator.controllers import FakeControllers

Obj = dict[str, Any]


class BackgroundControllers(ControllerThread):
    """A running reactive loop; stop it with :meth:`stop` or by leaving ``with``."""

    name = "fake-controllers"

    def __init__(
        self,
        controllers: FakeControllers,
        *,
        auto_ready: bool,
        auto_endpoints: bool,
        lag_seconds: float,
    ) -> None:
        super().__init__(controllers.cluster)
        self.controllers = controllers
        self.auto_ready = auto_ready
        self.auto_endpoints = auto_endpoints
        self.lag_seconds = lag_seconds
        self._deployments = self.informer("/apis/apps/v1/deployments")
        self._services = self.informer("/api/v1/services")
        self._deployments.on_change(self._on_deployment)
        self._services.on_change(self._on_service)
        self._scheduled: set[Key] = set()

    def _on_deployment(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        key = key_of(obj)
        if event_type != "DELETED" and self.auto_ready and not is_rolled_out(obj):
            self.spawn(self.call(self.controllers.mark_deployment_ready, *key))
        if self.auto_endpoints:
            for service in self._services.items(key[0]):
                if selects(service, obj) or (old is not None and selects(service, old)):
                    self._schedule_endpoints(key_of(service))

    def _on_service(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        if event_type == "DELETED" or not self.auto_endpoints:
            return
        old_spec = (old or {}).get("spec") or {}
        spec = obj.get("spec") or {}
        if (
            old is None
            or old_spec.get("selector") != spec.get("selector")
            or old_spec.get("ports") != spec.get("ports")
        ):
            self._schedule_endpoints(key_of(obj))

    def _schedule_endpoints(self, service_key: Key) -> None:
        if service_key in self._scheduled:
            return  # one pending update will see the latest state anyway
        self._scheduled.add(service_key)
        self.spawn(self._update_endpoints(service_key))

    async def _update_endpoints(self, service_key: Key) -> None:
        if self.lag_seconds > 0:
            await asyncio.sleep(self.lag_seconds)
        self._scheduled.discard(service_key)
        await self.call(self.controllers.set_endpoints_for_service, *service_key)
