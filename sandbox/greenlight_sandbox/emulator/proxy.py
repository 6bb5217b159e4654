"""The API server's service proxy: ``/api/v1/namespaces/{ns}/services/{svc}/proxy{path}``.

The service part may be ``name``, ``name:port`` or ``scheme:name:port`` (``http:web:80``).
Requests are answered by a handler set by the test, ``handler(namespace, service, port,
path) -> (status, body)``, called in a worker thread so it may block; ``port`` is the port
part as written (a number or a port name) or None, ``path`` starts with ``/`` and keeps the
query string. A handler that raises gives 502 (and is logged). Without a handler (or when it
returns None) the answer is what a real API server says for a Service without ready
endpoints: 503 ``no endpoints available``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable

logger = logging.getLogger(__name__)
ProxyHandler = Callable[[str, str, str | None, str], "tuple[int, str] | None"]

_PROXY_RE = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy(/.*)?$")


@dataclasses.dataclass(frozen=True)
class ProxyTarget:
    namespace: str
    service: str
    port: str | None
    path: str


def parse(path: str, query_string: str) -> ProxyTarget | None:
    match = _PROXY_RE.match(path)
    if match is None:
        return None
    namespace, service_part, rest = match.groups()
    parts = service_part.split(":")
    if len(parts) == 3:  # scheme:name:port
        _, service, port = parts
    elif len(parts) == 2:
        service, port = parts
    else:
        service, port = parts[0], None
    full_path = (rest or "/") + (f"?{query_string}" if query_string else "")
    return ProxyTarget(namespace, service, port or None, full_path)


async def answer(handler: ProxyHandler | None, target: ProxyTarget) -> tuple[int, str] | None:
    """Ask the handler (in a worker thread); None when nothing answers (the 503 default)."""
    if handler is None:
        return None
    try:
        result = await asyncio.to_thread(
            handler, target.namespace, target.service, target.port, target.path
        )
    except Exception as exc:
        logger.exception("The service proxy handler failed for %s", target)
        return 502, f"the service proxy handler failed: {exc!r}"
    if result is None:
        return None
    status, body = result
    return int(status), str(body)


def no_endpoints_message(target: ProxyTarget) -> str:
    return f'no endpoints available for service "{target.service}"'
