"""GET through the API server's service proxy, reporting the status code the workload gave.

`GET /api/v1/namespaces/{ns}/services/{name}:{port}/proxy{path}` reaches a Service from
anywhere the API server can be reached: an operator on a laptop gating workloads on kind, and
tests gating fake pods. Any status is an answer (a gate judges it), so none raises; a timeout
raises the built-in `TimeoutError` and an unreachable API server `ConnectionError`, so gates
never see a client exception. There is no retry here: a gate's thresholds already count
failures, and a retried probe would hide the one that failed.

Blocking: call it from a worker thread (`asyncio.to_thread`), never on the event loop.
"""

from __future__ import annotations

import urllib.parse

import urllib3.exceptions
import urllib3.util

from greenlight.kube.client import ApiClient
from greenlight.kube.common import quote, send
from greenlight.kube.errors import status_body

SNIPPET_BYTES = 200
# What is read of an answer at most: a workload's body can be anything (an endless stream, a
# gigabyte), and only its start is shown. Enough for the API server's own `Status` refusal.
READ_BYTES = 4096


class PathOutsideService(ConnectionError):
    """The probe's path would leave the Service's proxy prefix; nothing was sent."""


def proxy_prefix(*, namespace: str, service: str, port: int) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}/services/{quote(service)}:{port}/proxy"


def service_proxy_path(*, namespace: str, service: str, port: int, path: str) -> str:
    """The proxy URL path; the probe's own path keeps its slashes and query."""
    if not path.startswith("/"):
        path = "/" + path
    kept = urllib.parse.quote(path, safe="/?&=%:@!$'()*+,;~-._")
    return proxy_prefix(namespace=namespace, service=service, port=port) + kept


def check_inside_service(
    host: str, url_path: str, *, namespace: str, service: str, port: int
) -> None:
    """Raises `PathOutsideService` unless `host + url_path`, as the HTTP client will send it,
    stays under the Service's proxy prefix (after the host's own path, if it has one).

    The models refuse dot segments already; this is the last line, for a Release stored before
    that check existed or a client that normalises more than expected. urllib3 resolves `.`
    and `..` segments when it parses the URL, so the parsed path is what goes on the wire.
    """
    base = (urllib3.util.parse_url(host).path or "").rstrip("/")
    prefix = base + proxy_prefix(namespace=namespace, service=service, port=port)
    sent = urllib3.util.parse_url(host + url_path).path or ""
    decoded = urllib.parse.unquote(sent)
    if not sent.startswith(prefix + "/") or "/../" in decoded + "/" or "/./" in decoded + "/":
        raise PathOutsideService(f"path leaves Service {service}'s proxy (sent as {sent}); refused")


def get(
    api_client: ApiClient,
    *,
    namespace: str,
    service: str,
    port: int,
    path: str,
    timeout: float,
) -> tuple[int, str]:
    """(status, the body's first bytes as text) of one GET through the service proxy."""
    url_path = service_proxy_path(namespace=namespace, service=service, port=port, path=path)
    check_inside_service(
        api_client.configuration.host, url_path, namespace=namespace, service=service, port=port
    )
    try:
        response = send(
            api_client, "GET", url_path, accept="*/*", timeout=timeout, preload_content=False
        )
        try:
            data = response.read(READ_BYTES)
        finally:
            # The rest stays unread: closing drops the connection instead of returning it to
            # the pool with a body still in it (or draining that body first).
            response.close()
            response.release_conn()
    except urllib3.exceptions.NewConnectionError as error:
        raise ConnectionRefusedError(f"API server unreachable: {error}") from error
    except urllib3.exceptions.TimeoutError as error:
        raise TimeoutError(f"timed out after {timeout:g}s") from error
    except urllib3.exceptions.HTTPError as error:
        raise ConnectionError(f"API server connection failed: {error}") from error
    return response.status, _snippet(data)


def _snippet(data: bytes) -> str:
    """The body's start; for the API server's own refusal (a `Status`), its message."""
    if data.startswith(b"{") and b'"Status"' in data[:100]:
        status = status_body(data)
        if status.get("kind") == "Status" and status.get("message"):
            return str(status["message"])[:SNIPPET_BYTES]
    return data[:SNIPPET_BYTES].decode("utf-8", errors="replace")
