"""The HTTP gate: one probe, one outcome, one line that says what it saw."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from greenlight.gates.base import ProbeTarget
from greenlight.gates.http import HttpGate
from greenlight.models import HttpProbeSpec

TARGET = ProbeTarget(namespace="shop", service="web-preview", port=80)


class FakeTransport:
    """Answers every GET with `answer` (a (status, body) pair or an exception to raise)."""

    def __init__(self, answer: tuple[int, str] | BaseException) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    async def get(
        self, *, namespace: str, service: str, port: int, path: str, timeout_seconds: float
    ) -> tuple[int, str]:
        self.requests.append(
            {
                "namespace": namespace,
                "service": service,
                "port": port,
                "path": path,
                "timeout_seconds": timeout_seconds,
            }
        )
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    async def aclose(self) -> None:
        pass


class HangingTransport(FakeTransport):
    """Ignores its timeout: the gate's own guard must end the probe."""

    async def get(self, **kwargs: Any) -> tuple[int, str]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def gate(transport: FakeTransport, **spec: Any) -> HttpGate:
    return HttpGate(HttpProbeSpec.model_validate({"path": "/readyz", **spec}), transport)


def probe(transport: FakeTransport, **spec: Any) -> tuple[bool, str]:
    outcome = asyncio.run(gate(transport, **spec).probe(TARGET))
    return outcome.ok, outcome.message


def test_an_expected_status_passes() -> None:
    assert probe(FakeTransport((200, "ok"))) == (True, "GET /readyz -> 200")


def test_an_unexpected_status_fails_naming_what_was_expected() -> None:
    assert probe(FakeTransport((503, ""))) == (False, "GET /readyz -> 503 (expected 200)")


def test_a_failure_shows_the_start_of_the_body_on_one_line() -> None:
    ok, message = probe(FakeTransport((503, "not\nready:   database down" + "x" * 500)))
    assert not ok
    assert message.startswith("GET /readyz -> 503 (expected 200): not ready: database down")
    assert "\n" not in message
    assert len(message) < 150


def test_any_of_several_expected_statuses_passes() -> None:
    assert probe(FakeTransport((204, "")), expectStatus=[200, 204]) == (True, "GET /readyz -> 204")
    ok, message = probe(FakeTransport((500, "")), expectStatus=[200, 204])
    assert (ok, message) == (False, "GET /readyz -> 500 (expected 200, 204)")


def test_a_timeout_fails_saying_how_long_it_waited() -> None:
    answer = TimeoutError("timed out after 2s")
    assert probe(FakeTransport(answer)) == (False, "GET /readyz: timed out after 2s")


def test_a_refused_connection_fails_saying_so() -> None:
    answer = ConnectionRefusedError("refused")
    assert probe(FakeTransport(answer)) == (False, "GET /readyz: connection refused")


def test_other_connection_failures_say_what_happened() -> None:
    answer = ConnectionError("connection failed: name does not resolve")
    ok, message = probe(FakeTransport(answer))
    assert (ok, message) == (False, "GET /readyz: connection failed: name does not resolve")


def test_the_request_goes_to_the_target_service_with_the_spec_timeout() -> None:
    transport = FakeTransport((200, ""))
    probe(transport, timeoutSeconds=5)
    assert transport.requests == [
        {
            "namespace": "shop",
            "service": "web-preview",
            "port": 80,
            "path": "/readyz",
            "timeout_seconds": 5.0,
        }
    ]


def test_a_gate_port_overrides_the_service_port() -> None:
    transport = FakeTransport((200, ""))
    probe(transport, port=9090)
    assert transport.requests[0]["port"] == 9090


def test_a_transport_that_ignores_its_timeout_is_cut_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("greenlight.gates.http._GUARD_SECONDS", 0.0)
    # Below the schema's minimum of 1 s, only so that the test costs no wall time.
    spec = HttpProbeSpec.model_construct(
        path="/readyz", port=None, expect_status=[200], timeout_seconds=0.05
    )
    outcome = asyncio.run(HttpGate(spec, HangingTransport((0, ""))).probe(TARGET))
    assert outcome.ok is False
    assert outcome.message == "GET /readyz: timed out after 0.05s"
