"""Notifications from the real operator against the emulated API server, delivered to a local
webhook receiver that checks every signature: each subscribed transition arrives once, a
channel the Secret does not define is an invalid spec, a receiver that never answers leaves a
Warning Event and counts as failed, and an operator restarted between a transition and its
delivery sends it once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from greenlight import metrics, models
from greenlight.models import Phase
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from greenlight_sandbox.emulator.controllers import FakeControllers
from greenlight_sandbox.receiver import KEY, Receiver
from tests.component.harness import CRD_PATH, NAMESPACE, FakeApps, RunningOperator, release

SECRET = "greenlight-notifications"
EVERYTHING = [{"channel": "team-hook", "on": [str(t) for t in models.NotifyOn]}]
FAST = {"scaleDownDelaySeconds": 0, "progressDeadlineSeconds": 30}
GATES = [{"name": "readyz", "http": {"path": "/readyz"}, "intervalSeconds": 1}]


@pytest.fixture()
def cluster(kube_cluster: EmulatedCluster) -> Iterator[EmulatedCluster]:
    kube_cluster.apply_crd(CRD_PATH)
    kube_cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    yield kube_cluster


@pytest.fixture()
def controllers(cluster: EmulatedCluster) -> Iterator[FakeControllers]:
    FakeApps(cluster)
    fakes = FakeControllers(cluster)
    fakes.run_in_background(auto_ready=True, auto_endpoints=True)
    yield fakes
    fakes.stop()


def store_secret(cluster: EmulatedCluster, **channels: str) -> None:
    data = {"hmac-key": KEY, **channels}
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": NAMESPACE},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )


def operator(cluster: EmulatedCluster, **settings: Any) -> RunningOperator:
    return RunningOperator(
        cluster,
        notifications_secret=f"{NAMESPACE}/{SECRET}",
        notifications_retry_base_seconds=0.05,
        **settings,
    )


def status(cluster: EmulatedCluster) -> models.ReleaseStatus:
    body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, "web") or {}
    return models.ReleaseStatus.model_validate(body.get("status") or {})


def wait_phase(cluster: EmulatedCluster, phase: Phase) -> models.ReleaseStatus:
    reached = wait_for(lambda: status(cluster).phase is phase or None, timeout=20)
    assert reached, status(cluster)
    return status(cluster)


def transitions(receiver: Receiver) -> list[str]:
    return [f"{facts['revision']}:{facts['transition']}" for facts in receiver.received]


def event_messages(cluster: EmulatedCluster, reason: str) -> list[str]:
    return [
        str(event.get("message", ""))
        for event in cluster.list("v1", "events", NAMESPACE)
        if event.get("reason") == reason
    ]


def failed_count() -> float:
    sample = metrics.REGISTRY.get_sample_value(
        "greenlight_notifications_total", {"result": "failed"}
    )
    return sample or 0.0


def test_a_release_tells_its_channel_each_transition_once_signed(
    cluster: EmulatedCluster, controllers: FakeControllers
) -> None:
    with Receiver(fail_first=2) as receiver:
        store_secret(cluster, **{"team-hook": receiver.url})
        spec = {"gates": GATES, "strategy": FAST, "notifications": EVERYTHING}
        with operator(cluster, dashboard_url="http://dashboard.local/"):
            cluster.create(release(**spec))
            wait_phase(cluster, Phase.SUCCEEDED)
            assert wait_for(lambda: len(receiver.received) >= 2, timeout=15)
        # Retries can reorder deliveries: each arrives once, in whatever order.
        assert sorted(transitions(receiver)) == ["1:Succeeded", "1:Switched"]
        assert receiver.bad_signatures == 0
        assert receiver.attempts == 4  # the first two failed and were retried
        [succeeded] = [facts for facts in receiver.received if facts["phase"] == "Succeeded"]
        assert succeeded["release"] == "web" and succeeded["namespace"] == NAMESPACE
        assert succeeded["images"] == ["web:1"]
        assert succeeded["dashboard"] == "http://dashboard.local/"
        assert succeeded["commands"][0] == f"greenlight status web -n {NAMESPACE}"
        assert status(cluster).notified == ["1:Switched:team-hook", "1:Succeeded:team-hook"]
        assert status(cluster).pending_notifications == []


def test_a_channel_the_secret_does_not_define_is_an_invalid_spec(
    cluster: EmulatedCluster, controllers: FakeControllers
) -> None:
    store_secret(cluster, **{"team-hook": "json://127.0.0.1:9/never"})
    spec = {"strategy": FAST, "notifications": [{"channel": "nobody", "on": ["Failed"]}]}
    with operator(cluster):
        cluster.create(release(**spec))
        failed = wait_phase(cluster, Phase.FAILED)
    invalid = next(c for c in failed.conditions if c.type == "InvalidSpec")
    assert invalid.status == "True"
    assert "spec.notifications[0].channel" in invalid.message
    assert "team-hook" in invalid.message  # the channels it could name


def test_a_receiver_that_never_answers_leaves_a_warning_event_and_counts_as_failed(
    cluster: EmulatedCluster, controllers: FakeControllers
) -> None:
    before = failed_count()
    with Receiver(hang=True) as receiver:
        store_secret(cluster, **{"team-hook": receiver.url})
        spec = {"strategy": FAST, "notifications": [{"channel": "team-hook", "on": ["Succeeded"]}]}
        settings = {"notifications_retry_seconds": 1.0, "notifications_timeout_seconds": 0.3}
        with operator(cluster, **settings):
            cluster.create(release(**spec))
            wait_phase(cluster, Phase.SUCCEEDED)  # the release never waits for its channel
            assert wait_for(lambda: event_messages(cluster, "NotificationFailed"), timeout=15)
        url = receiver.url
    [message] = event_messages(cluster, "NotificationFailed")
    assert "Succeeded of revision 1" in message and "team-hook" in message
    every_event = " ".join(str(e) for e in cluster.list("v1", "events", NAMESPACE))
    assert url.split("://", 1)[1] not in every_event
    assert "s3cr3t-token-path" not in every_event
    assert failed_count() - before == 1


def test_an_operator_restarted_between_a_transition_and_its_delivery_sends_it_once(
    cluster: EmulatedCluster, controllers: FakeControllers
) -> None:
    with Receiver() as receiver:
        store_secret(cluster, **{"team-hook": receiver.url})
        spec = {
            "strategy": {**FAST, "autoPromote": False},
            "notifications": [{"channel": "team-hook", "on": ["AwaitingPromotion"]}],
        }
        with operator(cluster):
            cluster.create(release(**spec))
            awaiting = wait_phase(cluster, Phase.AWAITING_PROMOTION)
            assert wait_for(lambda: receiver.received, timeout=10)
        assert transitions(receiver) == ["1:AwaitingPromotion"]
        # What the transition's status write leaves when the operator stops right after it:
        # the notification recorded as decided and still pending.
        [sent] = receiver.received
        pending = models.PendingNotification(
            key="1:AwaitingPromotion:team-hook",
            channel="team-hook",
            transition="AwaitingPromotion",
            revision=1,
            phase="AwaitingPromotion",
            images=sent["images"],
            started_at=sent["startedAt"],
            time=sent["at"],
        )
        receiver.received.clear()
        cluster.patch(
            models.API_VERSION,
            models.PLURAL,
            NAMESPACE,
            "web",
            {"status": {"pendingNotifications": [pending.model_dump(by_alias=True)]}},
            subresource="status",
        )
        assert awaiting.notified == ["1:AwaitingPromotion:team-hook"]
        for _ in range(2):  # restarted, and restarted again once it was handed over
            with operator(cluster):
                assert wait_for(lambda: not status(cluster).pending_notifications, timeout=10)
                assert wait_for(lambda: receiver.received, timeout=10)
        assert transitions(receiver) == ["1:AwaitingPromotion"]
        assert status(cluster).phase is Phase.AWAITING_PROMOTION
        assert status(cluster).notified == ["1:AwaitingPromotion:team-hook"]
