"""The sandbox end to end: the API service released, a switch under load losing nothing, and a
revision failing after its switch, switched back by the operator (real processes, real traffic).
"""

from __future__ import annotations

import json
import pathlib
import time
import urllib.request

import pytest

from greenlight_sandbox import measure, story
from greenlight_sandbox.emulator import wait_for
from greenlight_sandbox.loadgen import LoadGenerator
from greenlight_sandbox.system import (
    NOTIFICATIONS_CHANNEL,
    RunningSystem,
    release_and_settle,
    running_system,
    wait_serving,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SETTLE_SECONDS = 60.0
PREVIEW = "shop-preview"


def release(system: RunningSystem, revision: story.Revision) -> str:
    release = story.with_revision(story.shop_release(), revision)
    step = release_and_settle(
        system.sandbox, story.subscribed(release, NOTIFICATIONS_CHANNEL), SETTLE_SECONDS
    )
    return step.phase


@pytest.mark.timeout(240)
def test_a_switch_under_load_loses_nothing_and_a_failing_revision_is_switched_back(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the chart is rendered from the checkout
    with running_system(tmp_path / "sandbox", say=lambda _: None) as system:
        assert system.dashboard_url is not None
        sandbox = system.sandbox
        sandbox.ensure_namespace(story.NAMESPACE)
        assert release(system, story.FIRST) == "Succeeded"

        url = sandbox.service_url(story.NAMESPACE, story.RELEASE)
        wait_serving(f"{url}/")
        with LoadGenerator(f"{url}/", rate_per_second=40, timeout_seconds=2.0) as load:
            switch_started = time.monotonic()
            assert release(system, story.SWITCH) == "Succeeded"
            switch_ended = time.monotonic()
            assert release(system, story.FAILS_AFTER_SWITCH) == "RolledBack"
            back_moves = measure.moves(
                sandbox.cluster.requests,
                story.NAMESPACE,
                active=story.RELEASE,
                preview=PREVIEW,
                since=switch_ended,
            )
            assert len(back_moves) == 2  # to 4.0.0, then back to 2.0.0
            # Two seconds of load once the switch back has reached the proxies.
            wait_for(lambda: sandbox.routing_caught_up(story.NAMESPACE, story.RELEASE), timeout=10)
            settled_after = time.monotonic()
            assert settled_after >= back_moves[-1].patched + sandbox.propagation_lag_seconds
            wait_for(
                lambda: any(r.scheduled >= settled_after + 2 for r in load.records_so_far()),
                timeout=30,
            )
            records = load.stop()

        during_switch = [r for r in records if switch_started <= r.scheduled < switch_ended]
        assert len(during_switch) > 100
        assert [r for r in during_switch if not r.ok] == []
        versions = [r.version for r in during_switch]
        assert versions[0] == "1.0.0"
        assert versions[-1] == "2.0.0"

        requests = sandbox.cluster.requests
        switch_moves = measure.moves(
            requests,
            story.NAMESPACE,
            active=story.RELEASE,
            preview=PREVIEW,
            since=switch_started,
            until=switch_ended,
        )
        assert len(switch_moves) == 1
        # After the switch back has reached the proxies, 2.0.0 answers every request again.
        tail = [r for r in records if r.scheduled >= settled_after]
        assert tail and all(r.ok and r.version == "2.0.0" for r in tail)

        # The operator told the sandbox's channel, signed, once per transition and revision.
        wait_for(lambda: len(system.notifications.received) >= 5, timeout=30)
        sent = [(n["revision"], n["transition"]) for n in system.notifications.received]
        assert len(sent) == len(set(sent))
        assert {(2, "Switched"), (2, "Succeeded"), (3, "Switched"), (3, "RolledBack")} <= set(sent)
        assert system.notifications.bad_signatures == 0

        with urllib.request.urlopen(f"{system.dashboard_url}/api/v1/releases", timeout=5) as answer:
            names = {item["name"] for item in json.load(answer)["items"]}
        assert {story.RELEASE, "greenlight-api"} <= names
