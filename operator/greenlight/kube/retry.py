"""Retries of Kubernetes API calls that failed for a passing reason, with exponential backoff.

Retried: 429 (after the server's `Retry-After` when it gives one), 500/502/503/504, timeouts and
lost connections, and 409 only when the caller says a conflict is worth retrying (a write that
re-reads nothing: a 409 on create means "already exists" and must reach the caller). Everything
else raises at once. Every failure but 404 is counted in `greenlight_api_errors_total`, retried
or not.

Each attempt is given `_request_timeout`, so a hung API server costs one timeout per attempt,
never a stuck worker thread.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from greenlight import metrics
from greenlight.settings import OperatorSettings, get_settings

T = TypeVar("T")

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_DELAY_SECONDS = 30.0  # a Retry-After longer than this is cut short: the tick moves on


def call(
    fn: Callable[..., T],
    *args: Any,
    retry_conflicts: bool = False,
    settings: OperatorSettings | None = None,
    sleep: Callable[[float], None] = time.sleep,
    what: str | None = None,
    **kwargs: Any,
) -> T:
    """`fn(*args, **kwargs, _request_timeout=...)`, retried on transient failures.

    `settings` defaults to the operator's; `sleep` is injected by tests so no time passes;
    `what` names the request in logs (default: the function's name).
    """
    settings = settings or get_settings()
    kwargs["_request_timeout"] = settings.api_timeout_seconds
    attempt = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            code = error_code(error)
            if code is None:
                raise
            if code != "404":  # "not found" is an answer the callers expect, not a failure
                metrics.api_error(code)
            delay = retry_delay(
                error, attempt=attempt, retry_conflicts=retry_conflicts, settings=settings
            )
            if delay is None or attempt >= settings.api_retries:
                raise
            logger.info(
                "%s failed (%s); retry %d of %d in %.2fs",
                what or getattr(fn, "__name__", "Kubernetes API call"),
                code,
                attempt + 1,
                settings.api_retries,
                delay,
            )
            sleep(delay)
            attempt += 1


def error_code(error: BaseException) -> str | None:
    """How a failed API request is counted: its HTTP status, `timeout` or `connection`.

    None for an exception that is not a failed request (a bug, a value error): never retried.
    """
    if isinstance(error, ApiException):
        return str(error.status or 0)
    if isinstance(error, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ProtocolError):
        return "connection"
    if isinstance(error, urllib3.exceptions.TimeoutError):
        return "timeout"
    if isinstance(error, urllib3.exceptions.MaxRetryError):
        return "connection"
    return None


def retry_delay(
    error: BaseException, *, attempt: int, retry_conflicts: bool, settings: OperatorSettings
) -> float | None:
    """Seconds to wait before retrying after `error`, or None when it must not be retried."""
    backoff = settings.api_retry_base_seconds * (2.0**attempt) * random.uniform(1.0, 1.25)
    backoff = min(backoff, MAX_DELAY_SECONDS)
    if isinstance(error, ApiException):
        status = int(error.status or 0)
        if status == 409:
            return backoff if retry_conflicts else None
        if status not in RETRYABLE_STATUSES:
            return None
        after = _retry_after(error.headers) if status in (429, 503) else None
        # The server's Retry-After is a floor, not a replacement: a "retry after 0" from an
        # overloaded server must not burn every retry within a millisecond.
        return backoff if after is None else min(max(after, backoff), MAX_DELAY_SECONDS)
    if isinstance(error, urllib3.exceptions.MaxRetryError):
        reason = error.reason
        retryable = reason is None or not isinstance(reason, urllib3.exceptions.SSLError)
        return backoff if retryable else None
    return backoff  # a timeout or a lost connection


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(float(str(value)), 0.0)
            except ValueError:
                return None  # an HTTP date: rare from an API server, fall back to backoff
    return None
