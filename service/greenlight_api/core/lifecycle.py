"""Readiness and the drain on SIGTERM, cooperating with uvicorn's own signal handling.

When Kubernetes stops a pod it sends SIGTERM and, at about the same moment, removes the pod
from the Service's endpoints; proxies and load balancers take a few seconds to notice. A
server that stops accepting connections at once fails the requests still routed to it, which
is exactly what a blue-green switch must not do. So, on the first SIGTERM:

1. `draining` is set: `/readyz` answers 503 at once, everything else is served as before;
2. after `drain_grace_seconds` the open event streams are told to end (their clients
   reconnect elsewhere), and uvicorn's own handler is called: it stops accepting, lets the
   requests in flight finish, then runs the lifespan shutdown.

A second SIGTERM, or SIGINT, skips the wait. Uvicorn installs its handlers with
`signal.signal` before the lifespan starts, so `install` wraps whatever handler is there and
`uninstall` puts it back. Off the main thread (uvicorn run in a thread, as in tests) there
are no signals; `begin_drain` is then called directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import types
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_Handler = Callable[[int, types.FrameType | None], Any] | int | signal.Handlers | None


class Lifecycle:
    def __init__(self, *, drain_grace_seconds: float) -> None:
        self.drain_grace_seconds = drain_grace_seconds
        self.draining = False
        self.stopping = asyncio.Event()  # set when streams must end: the drain is over
        self.started = False
        self._previous: dict[int, _Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._on_stop: list[Callable[[], None]] = []

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the loop) when streams must end."""
        if callback not in self._on_stop:
            self._on_stop.append(callback)

    def stop_streams(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        for callback in self._on_stop:
            callback()

    def start(self) -> None:
        """Called by the lifespan, on the loop that serves: fresh state for this run."""
        self.draining = False
        self.stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.started = True

    def stop_streams_threadsafe(self) -> None:
        """`stop_streams` from another thread: for servers stopped without a signal."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.stop_streams)

    # -- signals ---------------------------------------------------------------------------

    def install(self) -> None:
        """Wrap the current SIGTERM/SIGINT handlers (uvicorn's, when served by uvicorn)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread: nobody can send us signals here
                self._previous.pop(sig, None)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            if signal.getsignal(sig) == self._on_signal and handler is not None:
                signal.signal(sig, handler)
        self._previous.clear()

    def _on_signal(self, sig: int, frame: types.FrameType | None) -> None:
        loop = self._loop
        if sig == signal.SIGTERM and not self.draining and loop is not None:
            logger.info(
                "SIGTERM: draining for %.1f s before shutting down", self.drain_grace_seconds
            )
            loop.call_soon_threadsafe(self.begin_drain, lambda: self._pass_on(sig, frame))
        else:
            if loop is not None:
                loop.call_soon_threadsafe(self.stop_streams)
            self._pass_on(sig, frame)

    def _pass_on(self, sig: int, frame: types.FrameType | None) -> None:
        handler = self._previous.get(sig)
        if callable(handler):
            handler(sig, frame)
        elif handler is not None:  # SIG_DFL or SIG_IGN: let the previous disposition act
            signal.signal(sig, handler)
            signal.raise_signal(sig)

    # -- the drain ---------------------------------------------------------------------------

    def begin_drain(self, then: Callable[[], None] | None = None) -> None:
        """Turn unready now; after the grace period, end the streams and call `then`."""
        if self.draining:
            return
        self.draining = True
        self._drain_task = asyncio.get_running_loop().create_task(self._drain(then))

    async def _drain(self, then: Callable[[], None] | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=self.drain_grace_seconds)
        logger.info("drain over: closing event streams and stopping")
        self.stop_streams()
        if then is not None:
            then()

    async def close(self) -> None:
        """At shutdown: do not leave the drain task behind, and end the streams."""
        if self._drain_task is not None and not self._drain_task.done():
            self._drain_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain_task
        self.stop_streams()
