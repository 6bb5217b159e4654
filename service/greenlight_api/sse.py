"""Server-sent events, framed by hand: a few lines, and no dependency for them.

An event is `event: <type>`, optional `id:`, one `data:` line of JSON, and a blank line. Idle
streams get a comment line now and then, so proxies keep them open and a vanished client is
noticed.
"""

from __future__ import annotations

import json
from typing import Any

HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx-style proxies: do not buffer the stream
}
MEDIA_TYPE = "text/event-stream"
KEEPALIVE = b": keep-alive\n\n"


def event(kind: str, data: Any, *, event_id: str = "") -> bytes:
    payload = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    head = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id else "")
    return head.encode() + b"data: " + payload + b"\n\n"
