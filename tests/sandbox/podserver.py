"""A tiny HTTP application for the kubelet's tests, run as a pod's process.

``podserver.py --host H --port P [--greeting G]``. Endpoints: ``/`` (JSON: hostname, args,
greeting), ``/env`` (its environment), ``/readyz`` (200, or 503 once told not ready),
``/healthz`` (200, or 500 once told unhealthy), ``/probed`` (JSON: how often each of those
two was asked), ``/control?ready=0|1&live=0|1&exit=N``.
Environment: ``EXIT_AT_START=N`` exits at once with code N; ``IGNORE_SIGTERM=1`` ignores
SIGTERM; ``SPAWN_CHILD=1`` starts a long-sleeping child process first (logged as
``child <pid>``). Every SIGTERM is logged as ``SIGTERM <unix time>``; without ``IGNORE_SIGTERM`` it
then exits 0.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from types import FrameType

STATE = {"ready": True, "live": True}
PROBED = {"/readyz": 0, "/healthz": 0}


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    print(f"SIGTERM {time.time():.3f}", flush=True)
    if os.environ.get("IGNORE_SIGTERM") != "1":
        os._exit(0)


class Handler(http.server.BaseHTTPRequestHandler):
    greeting = ""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        status, body = 200, b"ok"
        if path in PROBED:
            PROBED[path] += 1
        if path == "/":
            answer = {"hostname": os.environ.get("HOSTNAME"), "args": sys.argv[1:]}
            body = json.dumps({**answer, "greeting": self.greeting}).encode()
        elif path == "/probed":
            body = json.dumps(PROBED).encode()
        elif path == "/env":
            body = json.dumps(dict(os.environ)).encode()
        elif path == "/readyz":
            status = 200 if STATE["ready"] else 503
        elif path == "/healthz":
            status = 200 if STATE["live"] else 500
        elif path == "/control":
            params = dict(urllib.parse.parse_qsl(query))
            for key in ("ready", "live"):
                if key in params:
                    STATE[key] = params[key] == "1"
            if "exit" in params:
                code = int(params["exit"])
                threading.Timer(0.05, lambda: os._exit(code)).start()
        else:
            status = 404
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the log holds only what the tests read


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--greeting", default="")
    options = parser.parse_args()
    if "EXIT_AT_START" in os.environ:
        print("exiting at start", flush=True)
        sys.exit(int(os.environ["EXIT_AT_START"]))
    signal.signal(signal.SIGTERM, on_sigterm)
    if os.environ.get("SPAWN_CHILD") == "1":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"child {child.pid}", flush=True)
    Handler.greeting = options.greeting
    server = http.server.ThreadingHTTPServer((options.host, options.port), Handler)
    print(f"listening on {options.host}:{options.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
