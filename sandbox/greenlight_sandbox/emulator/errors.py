"""Kubernetes-style API errors: one exception type and its ``Status`` body.

Everything the emulator rejects is raised as :class:`ApiError` and rendered as the
``Status`` object a real API server sends, so that clients (Kopf, the ``kubernetes``
client, kubectl) interpret the failure as they would against a real cluster.
"""

from __future__ import annotations

from typing import Any

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A failed API call: an HTTP status with a Kubernetes ``Status`` body."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason or REASONS.get(code, 'Unknown')}: {message}")
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.retry_after: int | None = None  # sent as a Retry-After header when set

    def status_body(self) -> dict[str, Any]:
        """The ``Status`` object, as in a real API server's error response."""
        return status_body(self.code, self.message, reason=self.reason, details=self.details)


def status_body(
    code: int,
    message: str,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``Status`` object for an HTTP status code (``Success`` below 400)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, ""),
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def not_found(group: str, plural: str, name: str) -> ApiError:
    """404 for a missing object, worded as kube-apiserver words it."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        404,
        f'{qualified} "{name}" not found',
        reason="NotFound",
        details={"name": name, "group": group, "kind": plural},
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    """409 AlreadyExists for a create with a taken name."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'{qualified} "{name}" already exists',
        reason="AlreadyExists",
        details={"name": name, "group": group, "kind": plural},
    )


def conflict(group: str, plural: str, name: str) -> ApiError:
    """409 Conflict for a stale ``metadata.resourceVersion``."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified;'
        " please apply your changes to the latest version and try again",
        reason="Conflict",
        details={"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, name: str, message: str) -> ApiError:
    """422 Invalid for a request the API server refuses on validation."""
    return ApiError(
        422,
        f'{kind} "{name}" is invalid: {message}',
        reason="Invalid",
        details={"name": name, "kind": kind},
    )
