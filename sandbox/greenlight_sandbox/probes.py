"""Running probe and hook actions against a local pod: HTTP GET, TCP connect, exec, sleep.

Every action is aimed at the pod's address (or the ``host`` it names). An HTTP probe passes
on a status from 200 to 399 without following redirects, as the kubelet's does; a TCP probe
passes when a connection opens; an exec action runs its command as a local process with the
container's environment and passes on exit code 0. One shared aiohttp session serves every
probe, with a connection per request, so a probe never reuses a socket of a process that
has since been restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Mapping

import aiohttp

from greenlight_sandbox.podspec import Action, Obj, resolve_port
from greenlight_sandbox.processes import ProcessGroups


async def run_action(
    action: Action,
    *,
    session: aiohttp.ClientSession,
    pod_ip: str,
    container: Obj,
    env: Mapping[str, str],
    processes: ProcessGroups,
    within_seconds: float,
) -> bool:
    """Run ``action`` once; whether it passed within ``within_seconds``."""
    try:
        return await asyncio.wait_for(
            _run(action, session, pod_ip, container, env, processes), within_seconds
        )
    except (TimeoutError, OSError, aiohttp.ClientError):
        return False


async def _run(
    action: Action,
    session: aiohttp.ClientSession,
    pod_ip: str,
    container: Obj,
    env: Mapping[str, str],
    processes: ProcessGroups,
) -> bool:
    if action.kind == "sleep":
        await asyncio.sleep(action.seconds)
        return True
    if action.kind == "exec":
        if not action.command:
            return False
        process = processes.start(action.command, env=env)
        try:
            return await asyncio.shield(process.exited) == 0
        finally:
            process.signal(signal.SIGKILL)  # on a timeout: the action is over, so is its process
    port = resolve_port(container, action.port)
    if port is None:
        return False
    host = action.host or pod_ip
    if action.kind == "tcp":
        _, writer = await asyncio.open_connection(host, port)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    scheme = "https" if action.scheme == "HTTPS" else "http"
    path = action.path if action.path.startswith("/") else f"/{action.path}"
    async with session.get(
        f"{scheme}://{host}:{port}{path}",
        headers=dict(action.headers) or None,
        allow_redirects=False,
        ssl=False,
    ) as response:
        return 200 <= response.status < 400


def probe_session() -> aiohttp.ClientSession:
    """The session probes share (create it on the loop that uses it)."""
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": "kube-probe/sandbox"})
