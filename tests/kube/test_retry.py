"""Retries of transient API errors: which are retried, how long it waits, what is counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from greenlight import metrics
from greenlight.kube import retry
from greenlight.settings import OperatorSettings

SETTINGS = OperatorSettings(api_retries=4, api_retry_base_seconds=0.5, api_timeout_seconds=7)


def api_error(status: int, headers: dict[str, str] | None = None) -> ApiException:
    error = ApiException(status=status, reason="test")
    error.headers = headers
    return error


class Flaky:
    """Fails with the given errors in turn, then answers "ok"; records each call's kwargs."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def run(fn: Callable[..., str], **options: Any) -> tuple[str, list[float]]:
    slept: list[float] = []
    result = retry.call(fn, settings=SETTINGS, sleep=slept.append, **options)
    return result, slept


def errors_counted(code: str) -> float:
    value = metrics.REGISTRY.get_sample_value("greenlight_api_errors_total", {"code": code})
    return value or 0.0


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_with_doubling_backoff(status: int) -> None:
    fn = Flaky(api_error(status), api_error(status), api_error(status))
    result, slept = run(fn)
    assert result == "ok"
    assert len(fn.calls) == 4
    assert len(slept) == 3
    for attempt, delay in enumerate(slept):
        base = 0.5 * 2**attempt
        assert base <= delay <= base * 1.25


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_statuses_raise_at_once(status: int) -> None:
    fn = Flaky(api_error(status))
    with pytest.raises(ApiException) as raised:
        run(fn)
    assert raised.value.status == status
    assert len(fn.calls) == 1


def test_a_conflict_is_retried_only_when_the_caller_says_so() -> None:
    with pytest.raises(ApiException):
        run(Flaky(api_error(409)))
    result, slept = run(Flaky(api_error(409)), retry_conflicts=True)
    assert result == "ok"
    assert len(slept) == 1


def test_retry_after_is_honoured() -> None:
    _, slept = run(Flaky(api_error(429, {"Retry-After": "3"})))
    assert slept == [3.0]
    _, slept = run(Flaky(api_error(429, {"retry-after": "1000"})))
    assert slept == [retry.MAX_DELAY_SECONDS]
    _, slept = run(Flaky(api_error(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})))
    assert 0.5 <= slept[0] <= 0.625  # a date is not understood: plain backoff


def test_retry_after_zero_does_not_skip_the_backoff() -> None:
    _, slept = run(Flaky(*(api_error(429, {"Retry-After": "0"}) for _ in range(3))))
    assert len(slept) == 3
    assert slept[0] >= 0.5 and slept[1] >= 2 * 0.5 and slept[2] >= 4 * 0.5


def test_gives_up_after_the_configured_retries_with_the_last_error() -> None:
    fn = Flaky(*(api_error(503) for _ in range(10)))
    with pytest.raises(ApiException) as raised:
        run(fn)
    assert raised.value.status == 503
    assert len(fn.calls) == SETTINGS.api_retries + 1


def test_backoff_is_capped() -> None:
    settings = OperatorSettings(api_retries=20, api_retry_base_seconds=10)
    slept: list[float] = []
    retry.call(Flaky(*(api_error(500) for _ in range(6))), settings=settings, sleep=slept.append)
    assert max(slept) == retry.MAX_DELAY_SECONDS


@pytest.mark.parametrize(
    "error",
    [
        urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),
        urllib3.exceptions.ConnectTimeoutError("connect timed out"),
        urllib3.exceptions.NewConnectionError(None, "refused"),
        urllib3.exceptions.ProtocolError("connection aborted"),
    ],
    ids=["read timeout", "connect timeout", "refused", "reset"],
)
def test_timeouts_and_lost_connections_are_retried(error: Exception) -> None:
    result, slept = run(Flaky(error))
    assert result == "ok"
    assert len(slept) == 1


def test_exceptions_that_are_not_failed_requests_are_never_retried() -> None:
    fn = Flaky(ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        run(fn)
    assert len(fn.calls) == 1


def test_every_attempt_gets_the_request_timeout_and_the_callers_arguments() -> None:
    fn = Flaky(api_error(500))
    slept: list[float] = []
    retry.call(fn, "positional", settings=SETTINGS, sleep=slept.append, body={"a": 1})
    assert fn.calls == [{"body": {"a": 1}, "_request_timeout": 7.0}] * 2


def test_failed_requests_are_counted_by_code_but_not_found_is_not() -> None:
    before_503, before_404 = errors_counted("503"), errors_counted("404")
    before_timeout = errors_counted("timeout")
    run(Flaky(api_error(503), api_error(503)))
    with pytest.raises(ApiException):
        run(Flaky(api_error(404)))
    run(Flaky(urllib3.exceptions.ReadTimeoutError(None, "/", "slow")))
    assert errors_counted("503") == before_503 + 2
    assert errors_counted("404") == before_404
    assert errors_counted("timeout") == before_timeout + 1
