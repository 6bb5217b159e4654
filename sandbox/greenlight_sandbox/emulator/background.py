"""The reactive loop of the fake controllers: watch Deployments and Services, react.

It runs in its own thread with its own event loop and aiohttp session (harness requests),
and calls the synchronous
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
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp

from greenlight_sandbox.emulator.controllers import is_rolled_out, selects
from greenlight_sandbox.emulator.emulator import HARNESS_HEADER
from greenlight_sandbox.emulator.errors import ApiError

if TYPE_CHECKING:
    from greenlight_sandbox.emulator.controllers import FakeControllers

logger = logging.getLogger(__name__)
Obj = dict[str, Any]
_WATCHED = {
    "/apis/apps/v1/deployments": ("apps", "deployments"),
    "/api/v1/services": ("", "services"),
}


class BackgroundControllers:
    """A running reactive loop; stop it with :meth:`stop` or by leaving ``with``."""

    def __init__(
        self,
        controllers: FakeControllers,
        *,
        auto_ready: bool,
        auto_endpoints: bool,
        lag_seconds: float,
    ) -> None:
        self.controllers = controllers
        self.auto_ready = auto_ready
        self.auto_endpoints = auto_endpoints
        self.lag_seconds = lag_seconds
        self.errors: list[str] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._pending = 0  # reactions scheduled but not finished
        self._pending_lock = threading.Lock()
        self._services: dict[tuple[str, str], Obj] = {}
        self._deployments: dict[tuple[str, str], Obj] = {}
        self._scheduled: set[tuple[str, str]] = set()
        self._seen: dict[str, int] = {}  # watch path -> the newest resource version seen

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="fake-controllers", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("The fake controllers did not start.")

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until the watch streams have seen every change and no reaction is pending."""
        cluster = self.controllers.cluster
        hub = cluster.emulator.hub

        def latest() -> dict[str, int]:
            logs = {path: hub.log(key) for path, key in _WATCHED.items()}
            return {path: log.events[-1].rv if log.events else 0 for path, log in logs.items()}

        deadline = time.monotonic() + timeout
        while True:
            targets = cluster._call(latest)
            with self._pending_lock:
                idle = self._pending == 0 and all(
                    self._seen.get(path, 0) >= rv for path, rv in targets.items()
                )
            if idle:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("The fake controllers did not become idle.")
            time.sleep(0.005)

    # --- the loop --------------------------------------------------------------------------

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        headers = {HARNESS_HEADER: "1"}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=1)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            tasks = [asyncio.create_task(self._watch(session, path)) for path in _WATCHED]
            self._started.set()
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _stream(
        self, session: aiohttp.ClientSession, path: str, since: str | None
    ) -> AsyncIterator[Obj]:
        params = {"watch": "true", "allowWatchBookmarks": "true"}
        if since:
            params["resourceVersion"] = since
        else:
            params["sendInitialEvents"] = "true"  # ends the initial ADDED with a BOOKMARK
        url = f"{self.controllers.cluster.url}{path}"
        async with session.get(url, params=params) as response:
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)

    async def _watch(self, session: aiohttp.ClientSession, path: str) -> None:
        since: str | None = None
        while True:
            try:
                async for event in self._stream(session, path, since):
                    if event["type"] == "ERROR":
                        since = None
                        break
                    obj = event["object"]
                    if event["type"] != "BOOKMARK":
                        self._on_event(path, event["type"], obj)
                    rv = int(obj.get("metadata", {}).get("resourceVersion") or 0)
                    if rv > self._seen.get(path, 0):
                        self._seen[path] = rv
                        since = str(rv)
            except (aiohttp.ClientError, ConnectionError):
                pass
            # A stream that ended (or broke) because the cluster stopped ends the loop at
            # once; reconnecting to a server that is going away could hang until a timeout.
            if not self.controllers.cluster.running:
                self._stop_soon()
                return
            await asyncio.sleep(0.05)

    def _stop_soon(self) -> None:
        """The cluster is gone: end the loop (and the thread) on our own."""
        if self._stop is not None:
            self._stop.set()

    def _on_event(self, path: str, event_type: str, obj: Obj) -> None:
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if path.endswith("/deployments"):
            old = self._deployments.pop(key, None)
            if event_type != "DELETED":
                self._deployments[key] = obj
                if self.auto_ready and not is_rolled_out(obj):
                    self._spawn(self._call(self.controllers.mark_deployment_ready, *key))
            if self.auto_endpoints:
                for service_key, service in self._services.items():
                    if service_key[0] != key[0]:
                        continue
                    if selects(service, obj) or (old is not None and selects(service, old)):
                        self._schedule_endpoints(service_key)
        else:
            old = self._services.pop(key, None)
            if event_type != "DELETED":
                self._services[key] = obj
                old_selector = (old or {}).get("spec", {}).get("selector")
                if self.auto_endpoints and (
                    old is None
                    or old_selector != obj["spec"].get("selector")
                    or old.get("spec", {}).get("ports") != obj["spec"].get("ports")
                ):
                    self._schedule_endpoints(key)

    def _schedule_endpoints(self, service_key: tuple[str, str]) -> None:
        if service_key in self._scheduled:
            return  # one pending update will see the latest state anyway
        self._scheduled.add(service_key)
        self._spawn(self._update_endpoints(service_key))

    async def _update_endpoints(self, service_key: tuple[str, str]) -> None:
        if self.lag_seconds > 0:
            await asyncio.sleep(self.lag_seconds)
        self._scheduled.discard(service_key)
        await self._call(self.controllers.set_endpoints_for_service, *service_key)

    def _spawn(self, coro: Any) -> None:
        with self._pending_lock:
            self._pending += 1
        task = asyncio.ensure_future(coro)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        with self._pending_lock:
            self._pending -= 1
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(repr(task.exception()))

    async def _call(self, fn: Any, *args: Any) -> None:
        try:
            await asyncio.to_thread(fn, *args)
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise
