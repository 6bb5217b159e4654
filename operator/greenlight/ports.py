"""The operator's listening ports, checked before Kopf starts.

A port another process holds would otherwise end the operator inside Kopf's startup with a
stack trace; this says in one line which port and which setting moves it, and exits 2.
"""

from __future__ import annotations

import socket
import sys
import urllib.parse
from collections.abc import Sequence

EXIT_PORT_TAKEN = 2


def liveness_port(argv: Sequence[str]) -> int | None:
    """The port of `kopf run --liveness=URL` (or `--liveness URL`), if the command has one."""
    for index, arg in enumerate(argv):
        url = None
        if arg.startswith("--liveness="):
            url = arg.split("=", 1)[1]
        elif arg == "--liveness" and index + 1 < len(argv):
            url = argv[index + 1]
        if url:
            return urllib.parse.urlsplit(url).port
    return None


def taken(port: int, host: str = "0.0.0.0") -> OSError | None:  # noqa: S104 - as the servers bind
    """The error binding `port` gives now, or None when it is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves bind: a port in TIME_WAIT is free for them too.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error
    return None


def exit_if_taken(ports: Sequence[tuple[int | None, str]]) -> None:
    """Exits 2 with one line on stderr for the first (port, setting) that cannot be bound."""
    for port, setting in ports:
        if not port:
            continue
        error = taken(port)
        if error is not None:
            sys.stderr.write(
                f"greenlight: port {port} is taken ({error.strerror or error}); "
                f"move it with {setting}\n"
            )
            raise SystemExit(EXIT_PORT_TAKEN)
