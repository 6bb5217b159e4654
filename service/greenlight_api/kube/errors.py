"""What can go wrong talking to the Kubernetes API, in the service's terms.

The routes turn these into HTTP answers: `NotFound` is 404, `Conflict` 409 and `Unavailable`
503 with its reason. Errors of the service's own credentials are `Unavailable` too: they are
not the caller's fault, and the caller can do nothing about them but retry later.
"""

from __future__ import annotations

import json

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException


class KubeError(Exception):
    """A Kubernetes API call failed; the message says why, for humans."""


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    pass


class Unavailable(KubeError):
    pass


def _api_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(exc.reason or "").strip()
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or "").strip()


def translate(exc: Exception, *, doing: str) -> KubeError:
    """The service's error for an exception raised by the client while `doing` something."""
    if isinstance(exc, KubeError):
        return exc
    if isinstance(exc, ApiException):
        status = exc.status or 0
        message = _api_message(exc)
        if status == 404:
            return NotFound(message or "not found")
        if status == 409:
            return Conflict(f"{doing}: {message or 'conflict'}")
        if status in (401, 403):
            return Unavailable(
                f"{doing}: the Kubernetes API refused the service's own credentials "
                f"({status}: {message})"
            )
        if status == 0:
            return Unavailable(f"{doing}: the Kubernetes API is unreachable ({exc.reason})")
        return Unavailable(f"{doing}: the Kubernetes API answered {status} ({message})")
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return Unavailable(f"{doing}: the Kubernetes API is unreachable ({type(exc).__name__})")
    return Unavailable(f"{doing}: unexpected {type(exc).__name__}: {exc}")
