"""What every sandbox controller shares: a thread with its own event loop, and informers.

A controller (the kubelet, the Deployment and EndpointSlice controllers, the Service proxies,
the emulator's fake controllers) is a :class:`ControllerThread`: it runs in a thread of its own
with its own asyncio loop and aiohttp session, so it never blocks the loop that serves the
emulated API server, and it talks to that server over HTTP like a real controller does.

An :class:`Informer` watches one collection in every namespace, keeps the current objects by
``(namespace, name)`` and calls its handlers on each change, on the controller's loop. It
resumes from the last resource version it saw when a stream ends, and relists when the
server answers 410 Expired, as client-go's reflector does.

Writes go through the cluster's harness client (:meth:`ControllerThread.call` runs it in a
worker thread): they are not recorded among the requests the tests and benchmarks measure,
and are never refused by injected faults.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

import aiohttp

from greenlight_sandbox.emulator.emulator import HARNESS_HEADER
from greenlight_sandbox.emulator.errors import ApiError

if TYPE_CHECKING:
    from greenlight_sandbox.emulator.cluster import EmulatedCluster

logger = logging.getLogger(__name__)
Obj = dict[str, Any]
Key = tuple[str, str]
P = ParamSpec("P")
T = TypeVar("T")
# handler(event type, the object (its last state for DELETED), the previous state or None)
ChangeHandler = Callable[[str, Obj, Obj | None], None]
# Answers a controller's write may get when it races another writer; the next event retries.
EXPECTED_RACES = frozenset({404, 409})
_RECONNECT_SECONDS = 0.05


def key_of(obj: Obj) -> Key:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata["name"])


def _log_key(path: str) -> tuple[str, str]:
    """The emulator's watch-log key of a collection path: ("apps", "deployments")."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":  # /api/v1/<plural>
        return "", parts[-1]
    return parts[1], parts[-1]  # /apis/<group>/<version>/<plural>


class Informer:
    """The current objects of one collection, kept by a watch (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.cache: dict[Key, Obj] = {}
        self.seen_version = 0
        self.synced = asyncio.Event()  # the initial objects have all been seen (loop-side)
        self._handlers: list[ChangeHandler] = []

    def on_change(self, handler: ChangeHandler) -> None:
        self._handlers.append(handler)

    def items(self, namespace: str | None = None) -> list[Obj]:
        return [obj for (ns, _), obj in self.cache.items() if namespace in (None, ns)]

    def apply(self, event_type: str, obj: Obj) -> None:
        """Fold one watch event into the cache and tell the handlers."""
        key = key_of(obj)
        old = self.cache.pop(key, None)
        if event_type != "DELETED":
            self.cache[key] = obj
        for handler in self._handlers:
            try:
                handler(event_type, obj, old)
            except Exception:  # one bad reaction must not end the watch
                logger.exception("A handler of %s failed on %s %s", self.path, event_type, key)

    async def run(
        self, session: aiohttp.ClientSession, base_url: str, alive: Callable[[], bool]
    ) -> None:
        since: str | None = None
        while True:
            try:
                async for event in self._stream(session, base_url, since):
                    if event["type"] == "ERROR":  # 410 Expired: relist from scratch
                        since = None
                        break
                    obj = event["object"]
                    if event["type"] == "BOOKMARK":
                        self.synced.set()  # the first one ends the initial events
                    else:
                        self.apply(event["type"], obj)
                    version = int((obj.get("metadata") or {}).get("resourceVersion") or 0)
                    if version > self.seen_version:
                        self.seen_version = version
                    if version:
                        since = str(max(version, int(since or 0)))
            except (aiohttp.ClientError, ConnectionError, json.JSONDecodeError):
                pass
            if not alive():
                return
            await asyncio.sleep(_RECONNECT_SECONDS)

    async def _stream(
        self, session: aiohttp.ClientSession, base_url: str, since: str | None
    ) -> AsyncIterator[Obj]:
        params = {"watch": "true", "allowWatchBookmarks": "true"}
        if since:
            params["resourceVersion"] = since
        else:
            self.cache.clear()
            params["sendInitialEvents"] = "true"  # the initial ADDED end with a BOOKMARK
        async with session.get(f"{base_url}{self.path}", params=params) as response:
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)


class ControllerThread:
    """A controller's thread and loop; subclasses add informers and react to their changes."""

    name = "controller"

    def __init__(self, cluster: EmulatedCluster) -> None:
        self.cluster = cluster
        self.errors: list[str] = []
        self._informers: list[Informer] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._pending = 0  # reactions spawned and not finished
        self._pending_lock = threading.Lock()

    # --- for subclasses --------------------------------------------------------------------

    def informer(self, path: str) -> Informer:
        """Watch ``path`` (a collection in every namespace); call before :meth:`start`."""
        informer = Informer(path)
        self._informers.append(informer)
        return informer

    async def started(self) -> None:
        """Runs on the loop once every informer has synced (a hook)."""

    async def stopping(self) -> None:
        """Runs on the loop when the controller stops, before its tasks are cancelled."""

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a tracked reaction (call on the loop); its error is kept."""
        with self._pending_lock:
            self._pending += 1
        task = asyncio.ensure_future(coro)
        task.add_done_callback(self._reaction_done)
        return task

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """Run a blocking write in a worker thread; None when it lost an expected race."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ApiError as error:
            if error.code in EXPECTED_RACES:
                return None
            raise

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"The {self.name} is not running.")
        return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the controller's loop from another thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> Self:
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"The {self.name} did not start in {timeout:g} seconds.")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
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
        """Wait until every informer has seen every change and no reaction is pending."""
        hub = self.cluster.emulator.hub

        def latest() -> list[int]:
            logs = [hub.log(_log_key(informer.path)) for informer in self._informers]
            return [log.events[-1].rv if log.events else 0 for log in logs]

        deadline = time.monotonic() + timeout
        while True:
            targets = self.cluster._call(latest)
            with self._pending_lock:
                idle = self._pending == 0 and all(
                    informer.seen_version >= target
                    for informer, target in zip(self._informers, targets, strict=True)
                )
            if idle:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"The {self.name} did not become idle in {timeout:g} s.")
            time.sleep(0.005)

    # --- the loop --------------------------------------------------------------------------

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=1)
        async with aiohttp.ClientSession(headers={HARNESS_HEADER: "1"}, timeout=timeout) as session:
            watches = [
                asyncio.create_task(informer.run(session, self.cluster.url, self._alive))
                for informer in self._informers
            ]
            await asyncio.gather(*(informer.synced.wait() for informer in self._informers))
            await self.started()
            self._started.set()
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait([stop, *watches], return_when=asyncio.FIRST_COMPLETED)
            await self.stopping()
            for task in [stop, *watches, *self._tasks()]:
                task.cancel()
            await asyncio.gather(stop, *watches, return_exceptions=True)

    def _alive(self) -> bool:
        """Whether a watch that ended should reconnect: not once stopping or the cluster is gone."""
        stopping = self._stop is not None and self._stop.is_set()
        return not stopping and self.cluster.running

    def _tasks(self) -> list[asyncio.Task[Any]]:
        current = asyncio.current_task()
        return [task for task in asyncio.all_tasks() if task is not current]

    def _reaction_done(self, task: asyncio.Task[Any]) -> None:
        with self._pending_lock:
            self._pending -= 1
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            logger.error("A reaction of the %s failed: %r", self.name, error)
            self.errors.append(repr(error))
