"""Local processes standing in for containers, and the guarantee that none outlives us.

A :class:`LocalProcess` is started in a session (and process group) of its own, so signals
reach everything it started, as they reach every process of a container. Its end is noticed
through a pidfd on the event loop (no thread per process; a waiting thread only where pidfds
are missing). When the main process ends, what is left of its group is killed: a container
ends with its main process.

A :class:`ProcessGroups` registry holds the live processes of one owner (the kubelet) for
:meth:`ProcessGroups.stop_all`; every group also sits in a module-wide set that an ``atexit``
hook kills, so an interpreter that ends without stopping its kubelet leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pathlib
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import IO, Self

_LIVE_GROUPS: set[int] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        groups = list(_LIVE_GROUPS)
        _LIVE_GROUPS.clear()
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)


def exit_code(returncode: int) -> int:
    """A container's exit code: a process killed by signal N exits with 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


class LocalProcess:
    """One started process group; await :attr:`exited` for its return code."""

    def __init__(self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.exited: asyncio.Future[int] = loop.create_future()
        self._loop = loop
        self._pidfd: int | None = None
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except OSError:  # no pidfd (an old kernel): a thread waits instead
            threading.Thread(target=self._wait_in_thread, daemon=True).start()
        else:
            loop.add_reader(self._pidfd, self._on_exit)

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: pathlib.Path | None = None,
        cwd: pathlib.Path | None = None,
    ) -> Self:
        """Start ``argv`` (call on the loop); its stdout and stderr append to ``log_path``."""
        loop = asyncio.get_running_loop()
        log: IO[bytes] | int = subprocess.DEVNULL
        if log_path is not None:
            log = log_path.open("ab")
        try:
            popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if not isinstance(log, int):
                log.close()
        with _LIVE_LOCK:
            _LIVE_GROUPS.add(popen.pid)
        return cls(popen, loop)

    @property
    def running(self) -> bool:
        return not self.exited.done()

    def signal(self, signum: int) -> None:
        """Signal the whole group (while its leader is not reaped its group id is ours)."""
        if self.running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)

    async def stop(self, grace_seconds: float) -> int:
        """SIGTERM, then SIGKILL after ``grace_seconds``; the return code."""
        self.signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.shield(self.exited), grace_seconds)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            return await self.exited

    def _on_exit(self) -> None:
        assert self._pidfd is not None
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        self._kill_group()  # before reaping: the leader's zombie keeps the group id ours
        self._finish(self.popen.wait())

    def _wait_in_thread(self) -> None:
        code = self.popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is gone: the atexit hook kills
            self._loop.call_soon_threadsafe(self._finish, code)

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # the container ends with its main process

    def _finish(self, returncode: int) -> None:
        self._kill_group()
        with _LIVE_LOCK:
            _LIVE_GROUPS.discard(self.pid)
        if not self.exited.done():
            self.exited.set_result(returncode)


class ProcessGroups:
    """The live processes of one owner, for stopping them all at once."""

    def __init__(self) -> None:
        self._live: set[LocalProcess] = set()

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: pathlib.Path | None = None,
    ) -> LocalProcess:
        process = LocalProcess.start(argv, env=env, log_path=log_path)
        self._live.add(process)
        process.exited.add_done_callback(lambda _: self._live.discard(process))
        return process

    def __len__(self) -> int:
        return len(self._live)

    async def stop_all(self, grace_seconds: float) -> None:
        """SIGTERM every group, SIGKILL those still running after ``grace_seconds``."""
        processes = list(self._live)
        if not processes:
            return
        for process in processes:
            process.signal(signal.SIGTERM)
        await asyncio.wait([process.exited for process in processes], timeout=grace_seconds)
        for process in processes:
            process.signal(signal.SIGKILL)
        await asyncio.wait([process.exited for process in processes], timeout=5.0)
