"""A small synchronous JSON client for the harness: the cluster facade and fake controllers.

Its requests carry the harness header, so they are not recorded, not authenticated and not
subject to injected faults, yet they change state through HTTP like any client (watchers
see them). Failures are raised as
:class:`~greenlight_sandbox.emulator.errors.ApiError` built from the server's ``Status`` body.
One connection per call: safe from any thread.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from greenlight_sandbox.emulator.emulator import HARNESS_HEADER
from greenlight_sandbox.emulator.errors import ApiError


class HarnessClient:
    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send one request; return the decoded JSON body or raise ``ApiError``."""
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        headers = {HARNESS_HEADER: "1", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            status = response.status
        finally:
            connection.close()
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = data.decode(errors="replace")
        if status >= 400:
            if isinstance(decoded, dict):
                raise ApiError(
                    status,
                    str(decoded.get("message", "")),
                    reason=decoded.get("reason") or None,
                    details=decoded.get("details"),
                )
            raise ApiError(status, str(decoded))
        return decoded


def resource_path(
    api_version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The URL path of a collection, an object or a subresource."""
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    parts = [base]
    if namespace:
        parts.append(f"namespaces/{urllib.parse.quote(namespace)}")
    parts.append(plural)
    if name:
        parts.append(urllib.parse.quote(name))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)
