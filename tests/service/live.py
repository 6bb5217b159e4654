"""The service served for real by uvicorn on loopback, in a thread or a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn

from greenlight import models
from greenlight_api.core.config import Settings
from greenlight_api.main import create_app
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from tests.emulator.builders import RELEASE_CRD

REPO = pathlib.Path(__file__).parents[2]


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextlib.contextmanager
def serve_in_thread(settings: Settings, **uvicorn_options: Any) -> Iterator[str]:
    """Run the app under uvicorn in a thread; yield its base URL once it is ready."""
    app = create_app(settings, configure_logging=False)
    sock = listening_socket()
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", **uvicorn_options
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or failure or not thread.is_alive(), timeout=10)
        if failure or not server.started:
            raise RuntimeError("the service did not start") from (failure or [None])[0]
        host, port = sock.getsockname()
        url = f"http://{host}:{port}"
        wait_for(lambda: httpx.get(f"{url}/readyz", trust_env=False).status_code == 200, timeout=10)
        yield url
    finally:
        # As SIGTERM would (there are no signals in a thread): end the event streams first,
        # or uvicorn waits for them forever.
        app.state.lifecycle.stop_streams_threadsafe()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"
        assert not failure, failure


@contextlib.contextmanager
def serve_in_subprocess(
    env: dict[str, str], log: pathlib.Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`uvicorn greenlight_api.main:app` as a process on an inherited loopback socket."""
    sock = listening_socket()
    host, port = sock.getsockname()
    full_env = {**os.environ, **env}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "greenlight_api.main:app",
                "--fd",
                str(sock.fileno()),
            ],
            pass_fds=(sock.fileno(),),
            env=full_env,
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    sock.close()
    url = f"http://{host}:{port}"
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited: {log.read_text()}")
            try:
                return httpx.get(f"{url}/readyz", trust_env=False).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout=20)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def prepare(cluster: EmulatedCluster) -> None:
    cluster.apply_crd(RELEASE_CRD)


def make_release(
    cluster: EmulatedCluster, name: str, namespace: str = "shop", **status: Any
) -> dict[str, Any]:
    body = {
        "apiVersion": models.API_VERSION,
        "kind": models.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": f"example/{name}:1"}]},
            },
            "strategy": {"autoPromote": False},
        },
    }
    created = cluster.create(body)
    if status:
        return set_status(cluster, name, namespace, **status)
    return created


def set_status(
    cluster: EmulatedCluster, name: str, namespace: str = "shop", **status: Any
) -> dict[str, Any]:
    current = cluster.get(models.API_VERSION, models.PLURAL, namespace, name) or {}
    status.setdefault("observedGeneration", current.get("metadata", {}).get("generation", 1))
    return cluster.patch(
        models.API_VERSION, models.PLURAL, namespace, name, {"status": status}, subresource="status"
    )


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """Decode a server-sent-event stream into (event, data) pairs."""
    kind, data = "message", ""
    for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            yield kind, json.loads(data)
            kind, data = "message", ""
