"""A blocking watch-stream reader for tests: ``with open_watch(cluster, path, **params)``.

It connects as the system under test would (recorded, faults apply, no harness header).
Once the context is entered the stream is established, so writes made afterwards are
guaranteed to show up in it.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from greenlight_sandbox.emulator.cluster import EmulatedCluster


class WatchStream:
    def __init__(self, response: http.client.HTTPResponse, sock: socket.socket | None) -> None:
        self.response = response
        self.status = response.status
        self._sock = sock

    def next(self, timeout: float = 2.0) -> dict[str, Any] | None:
        """The next event, or None at the end of the stream. TimeoutError if none comes."""
        if self._sock is not None:
            self._sock.settimeout(timeout)
        while True:
            try:
                line = self.response.readline()
            except TimeoutError:
                raise TimeoutError(f"No watch event within {timeout} s.") from None
            if not line:
                return None
            if line.strip():
                event: dict[str, Any] = json.loads(line)
                return event

    def take(self, count: int, timeout: float = 2.0) -> list[dict[str, Any]]:
        """Exactly ``count`` events (fewer only if the stream ends)."""
        events: list[dict[str, Any]] = []
        while len(events) < count:
            event = self.next(timeout)
            if event is None:
                break
            events.append(event)
        return events

    def rest(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Every event until the server ends the stream."""
        events: list[dict[str, Any]] = []
        while (event := self.next(timeout)) is not None:
            events.append(event)
        return events


@contextmanager
def open_watch(
    cluster: EmulatedCluster, path: str, *, token: str | None = "admin-token", **params: str
) -> Iterator[WatchStream]:
    query = urllib.parse.urlencode({"watch": "true", **params})
    connection = http.client.HTTPConnection(cluster.host, cluster.port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", f"{path}?{query}", headers=headers)
        response = connection.getresponse()
        yield WatchStream(response, connection.sock)
    finally:
        connection.close()


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, name) per event, for compact assertions."""
    return [(e["type"], e["object"].get("metadata", {}).get("name", "")) for e in events]
