"""A local webhook receiver of the operator's notifications: it checks each delivery's
signature and keeps what it received. `make demo` prints what it receives; the notification
tests make it fail a number of times first, or never answer at all."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Callable
from typing import Any

KEY = "sandbox-signing-key"  # the signing key the sandbox's Secret holds


class Receiver:
    def __init__(
        self,
        *,
        fail_first: int = 0,
        hang: bool = False,
        key: str = KEY,
        on_received: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """``on_received(facts)`` is called for each verified delivery (in a server thread)."""
        self.on_received = on_received
        self.fail_first = fail_first
        self.hang = hang
        self.key = key
        self.attempts = 0
        self.received: list[dict[str, Any]] = []  # the facts of each verified delivery
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner._lock:
                    owner.attempts += 1
                    failing = owner.attempts <= owner.fail_first
                if owner.hang:
                    owner._release.wait(30)
                    return
                if failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                envelope = json.loads(raw)
                text = envelope["message"]
                wanted = (
                    "sha256="
                    + hmac.new(owner.key.encode(), text.encode(), hashlib.sha256).hexdigest()
                )
                signed = hmac.compare_digest(self.headers.get("X-Greenlight-Signature", ""), wanted)
                facts = {**json.loads(text), "_title": envelope["title"]}
                with owner._lock:
                    if signed:
                        owner.received.append(facts)
                    else:
                        owner.bad_signatures += 1
                if signed and owner.on_received is not None:
                    owner.on_received(facts)
                self.send_response(200 if signed else 401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self._server.server_port}/hooks/s3cr3t-token-path"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
