"""Delivery against a local webhook receiver: signed JSON facts, retries with back-off until
the receiver recovers, a receiver that never answers given up on in bounded time (Warning
callback and metric), and no channel URL in any log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from greenlight import metrics, models
from greenlight.notify.channels import ChannelSource
from greenlight.notify.delivery import Delivery, Notifier
from greenlight_sandbox.emulator import wait_for
from greenlight_sandbox.receiver import KEY, Receiver

NOTIFICATION = models.PendingNotification(
    key="2:RolledBack:team",
    channel="team",
    transition="RolledBack",
    revision=2,
    phase="RolledBack",
    reason="gate errors failed: 503",
    images=["web:2"],
    gate="errors",
    gate_result="503",
    started_at="2026-01-01T10:00:00Z",
    time="2026-01-01T10:01:30Z",
)


def count(result: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value("greenlight_notifications_total", {"result": result})
        or 0.0
    )


def notifier_for(receiver: Receiver, failures: list[str], **options: float) -> Notifier:
    secret = {"team": receiver.url, "hmac-key": KEY}
    return Notifier(
        ChannelSource(lambda: secret),
        on_give_up=lambda delivery, why: failures.append(why),
        dashboard_url="https://greenlight.example.com/",
        **options,
    )


@pytest.fixture()
def failures() -> Iterator[list[str]]:
    yield []


def test_a_delivery_carries_the_facts_signed(failures: list[str]) -> None:
    with Receiver() as receiver:
        notifier = notifier_for(receiver, failures)
        try:
            notifier.submit(Delivery(namespace="shop", release="web", notification=NOTIFICATION))
            assert wait_for(lambda: receiver.received, timeout=10)
        finally:
            notifier.stop()
    [facts] = receiver.received
    assert facts["release"] == "web" and facts["namespace"] == "shop"
    assert facts["revision"] == 2 and facts["images"] == ["web:2"]
    assert facts["transition"] == "RolledBack" and facts["phase"] == "RolledBack"
    assert facts["gate"] == {"name": "errors", "lastResult": "503"}
    assert facts["durationSeconds"] == 90
    assert facts["commands"][0] == "greenlight status web -n shop"
    assert facts["dashboard"] == "https://greenlight.example.com/"
    assert facts["_title"] == "Release shop/web revision 2 was rolled back"
    assert receiver.bad_signatures == 0 and failures == []


def test_a_wrong_key_is_refused_by_the_receiver(failures: list[str]) -> None:
    with Receiver(key="another-key") as receiver:
        notifier = notifier_for(receiver, failures, retry_seconds=0.5, retry_base_seconds=0.1)
        try:
            notifier.submit(Delivery(namespace="shop", release="web", notification=NOTIFICATION))
            assert wait_for(lambda: failures, timeout=10)
        finally:
            notifier.stop()
    assert receiver.received == [] and receiver.bad_signatures >= 1


def test_a_failing_receiver_is_retried_until_it_recovers(failures: list[str]) -> None:
    retried, sent = count("retried"), count("sent")
    with Receiver(fail_first=3) as receiver:
        notifier = notifier_for(receiver, failures, retry_seconds=30, retry_base_seconds=0.05)
        try:
            notifier.submit(Delivery(namespace="shop", release="web", notification=NOTIFICATION))
            assert wait_for(lambda: receiver.received, timeout=10)
            assert wait_for(notifier.idle, timeout=5)
        finally:
            notifier.stop()
    assert receiver.attempts == 4
    assert len(receiver.received) == 1
    assert count("retried") - retried == 3
    assert count("sent") - sent == 1
    assert failures == []


def test_a_receiver_that_never_answers_is_given_up_in_bounded_time(
    failures: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    failed = count("failed")
    with Receiver(hang=True) as receiver:
        notifier = notifier_for(
            receiver, failures, retry_seconds=1.0, retry_base_seconds=0.2, timeout_seconds=0.3
        )
        began = time.monotonic()
        try:
            notifier.submit(Delivery(namespace="shop", release="web", notification=NOTIFICATION))
            assert wait_for(lambda: failures, timeout=15)
        finally:
            notifier.stop()
        took = time.monotonic() - began
        url = receiver.url
    assert took < 1.0 + 2 * 0.3 + 2.0  # the retry time, the last attempt's timeouts, slack
    assert receiver.attempts >= 2
    assert count("failed") - failed == 1
    [why] = failures
    assert "team" in why
    everything = caplog.text + why
    for secret in (url, "s3cr3t-token-path", url.split("://", 1)[1]):
        assert secret not in everything
