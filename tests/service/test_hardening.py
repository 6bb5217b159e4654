"""Security hardening of the service: the attacks of the security review, each performed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from tests.service.conftest import Service


def test_the_access_log_duration_is_the_requests_own(
    make_service: Callable[..., Service], caplog: pytest.LogCaptureFixture
) -> None:
    svc = make_service()
    with caplog.at_level(logging.INFO, logger="greenlight_api.access"):
        before = time.perf_counter()
        assert svc.client.get("/version").status_code == 200
        took_ms = (time.perf_counter() - before) * 1000
    (line,) = [r for r in caplog.records if r.name == "greenlight_api.access"]
    duration_ms = line.__dict__["duration_ms"]
    assert 0 <= duration_ms <= took_ms
