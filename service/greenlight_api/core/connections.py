"""A header timeout for uvicorn's h11 protocol: a connection must send a request's headers in
time, or it is closed.

Uvicorn closes a connection idle after a response (`--timeout-keep-alive`), but one that was
just opened and sends nothing, or sends its headers a byte at a time, stays open for as long
as the client likes, and holds a slot of `--limit-concurrency` meanwhile. The image runs
uvicorn with `--http greenlight_api.core.connections:HeaderTimeoutH11Protocol`: from the
connection's opening, and again from the end of each response, the headers of the next
request must be complete within `GREENLIGHT_API_HEADER_TIMEOUT_SECONDS`. Bodies and responses
are not timed here (bodies are small and capped by `core.body_limit`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from greenlight_api.core.config import get_settings


class HeaderTimeoutH11Protocol(H11Protocol):
    header_timeout: float = 0.0  # a subclass may fix it; 0: from the settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = self.header_timeout or get_settings().header_timeout_seconds
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Headers complete: the request is the app's now. Still waiting: the timer runs on.
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_late(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
