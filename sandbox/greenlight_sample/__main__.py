"""`python -m greenlight_sample --host H --port P`: the app under uvicorn, with a drain.

On the first SIGTERM (Kubernetes stopping the pod, or the sandbox's kubelet) the app turns
unready at once but keeps serving for `SAMPLE_DRAIN_SECONDS`, while Services and proxies stop
sending it traffic; then uvicorn stops accepting, lets the requests in flight finish and the
process exits 0. A second SIGTERM, or SIGINT, skips the wait; a second SIGINT forces the exit.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
import types
from collections.abc import Sequence

import uvicorn

from greenlight_sample.behaviour import Behaviour
from greenlight_sample.main import create_app
from greenlight_sample.settings import SettingsError, load_settings

logger = logging.getLogger("uvicorn.error")

# Requests in flight when the server stops get this long to finish; the kubelet's own grace
# period (30 s by default) is the outer bound anyway.
GRACEFUL_SHUTDOWN_SECONDS = 20


class DrainingServer(uvicorn.Server):
    """uvicorn's server with the drain in front of its graceful shutdown."""

    def __init__(
        self, config: uvicorn.Config, *, behaviour: Behaviour, drain_seconds: float
    ) -> None:
        super().__init__(config)
        self.behaviour = behaviour
        self.drain_seconds = drain_seconds
        self._drain_until: float | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: types.FrameType | None) -> None:
        # Replaces uvicorn's handler rather than wrapping it: uvicorn re-raises the signal once
        # it has shut down, and the process would then die of SIGTERM instead of exiting 0.
        # Runs as a signal handler: only flags here, the logging happens in `on_tick`.
        first_term = sig == signal.SIGTERM and self._drain_until is None
        self.behaviour.draining = True
        if first_term and not self.should_exit and self.drain_seconds > 0:
            self._drain_until = time.monotonic() + self.drain_seconds
            return
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and not self.should_exit:
            if not self._announced:
                self._announced = True
                logger.info(
                    "SIGTERM: unready, serving %.1f s more before shutting down",
                    self.drain_seconds,
                )
            if time.monotonic() >= self._drain_until:
                self.should_exit = True
        return await super().on_tick(counter)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m greenlight_sample",
        description="The Greenlight sample app (settings from the environment: docs/sandbox.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--log-level", default="info", help="uvicorn's log level")
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (off: /metrics counts them)"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"greenlight_sample: {error}", file=sys.stderr)
        return 2
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = DrainingServer(
        config, behaviour=app.state.behaviour, drain_seconds=settings.sample_drain_seconds
    )
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
