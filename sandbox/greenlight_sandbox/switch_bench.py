"""`make bench-switch`: does a switch lose requests? Measured at 200 requests/s, with a control.

On the running system (without the API service, to leave the two cores to the measurement),
the sample app is switched back and forth under open-loop load through its Service's proxy,
with a 1 s kube-proxy-like propagation lag:

1. the defaults: ten switches with the old colour kept warm past the lag (preStop 2 s, scale
   down 3 s after the switch), then three revisions that fail after the switch and are switched
   back by the operator (their failures are counted apart: the app itself is broken);
2. the negative control: five switches with the old colour scaled down at once and no preStop,
   so old pods stop while proxies still send them new connections. It must show failures, or
   the measurement could not see a lost request at all.

Figures (printed, and written to `build/bench-switch.json` with a picture beside it): requests
sent and failed, switch and rollback latency (the deciding probe's answer -> the Service
patched), client latency inside switch windows and outside them.
"""

from __future__ import annotations

import collections
import copy
import json
import pathlib
from collections.abc import Callable
from typing import Any

from greenlight_sandbox import measure, story
from greenlight_sandbox.loadgen import LoadGenerator, LoadRecord
from greenlight_sandbox.report import Moment, Window, write_picture
from greenlight_sandbox.system import (
    RunningSystem,
    Step,
    release_and_settle,
    running_system,
    wait_serving,
)

Obj = dict[str, Any]
SETTLE_TIMEOUT_SECONDS = 60.0
RATE_PER_SECOND = 200.0
# After a move, how long client latency counts as "during a switch": the lag plus margin.
SWITCH_WINDOW_EXTRA_SECONDS = 2.0


def bench_release(*, control: bool) -> Obj:
    """The sample app's Release for the bench: no post-switch window, short warm period."""
    release = copy.deepcopy(story.shop_release())
    spec = release["spec"]
    spec.pop("verification", None)
    spec["strategy"]["scaleDownDelaySeconds"] = 0 if control else 3
    if control:
        container = spec["template"]["spec"]["containers"][0]
        container.pop("lifecycle", None)
        # The sample app keeps serving 2 s after SIGTERM by default: the control stops at once.
        container["env"].append({"name": "SAMPLE_DRAIN_SECONDS", "value": "0"})
    return release


def failing_release(fail_after_seconds: int) -> Obj:
    release = copy.deepcopy(story.shop_release())
    release["spec"]["strategy"]["scaleDownDelaySeconds"] = 3
    env = release["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "SAMPLE_FAIL_AFTER_SECONDS", "value": str(fail_after_seconds)})
    return release


def release_version(system: RunningSystem, base: Obj, version: str) -> Step:
    """``base`` at ``version``, released and settled."""
    revision = story.with_revision(base, story.Revision(version, version))
    return release_and_settle(system.sandbox, revision, SETTLE_TIMEOUT_SECONDS)


def seconds(step: Step) -> str:
    return f"{step.finished - step.started:.1f}"


def in_any(moment: float, windows: list[Window]) -> bool:
    return any(w.start <= moment < w.end for w in windows)


def run(
    workdir: pathlib.Path,
    out: pathlib.Path,
    *,
    switches: int = 10,
    rollbacks: int = 3,
    control_switches: int = 5,
    rate_per_second: float = RATE_PER_SECOND,
    propagation_lag_seconds: float = 1.0,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    preview = story.shop_release()["spec"]["service"]["previewName"]
    with running_system(
        workdir,
        propagation_lag_seconds=propagation_lag_seconds,
        with_api_service=False,
        say=say,
    ) as system:
        sandbox = system.sandbox
        sandbox.ensure_namespace(story.NAMESPACE)
        release_version(system, bench_release(control=False), "0.0.1")
        url = sandbox.service_url(story.NAMESPACE, story.RELEASE)
        wait_serving(f"{url}/")
        load = LoadGenerator(f"{url}/", rate_per_second=rate_per_second, timeout_seconds=2.0)
        phases: dict[str, list[tuple[float, float]]] = {
            "default": [],
            "rollback": [],
            "control": [],
        }
        load.start()
        try:
            for number in range(1, switches + 1):
                span = release_version(system, bench_release(control=False), f"1.0.{number}")
                phases["default"].append((span.started, span.finished))
                say(f"switch {number}/{switches}: {span.phase} in {seconds(span)} s")
            for number in range(1, rollbacks + 1):
                span = release_version(system, failing_release(4), f"2.0.{number}")
                phases["rollback"].append((span.started, span.finished))
                say(f"rollback {number}/{rollbacks}: {span.phase} in {seconds(span)} s")
            for number in range(1, control_switches + 1):
                span = release_version(system, bench_release(control=True), f"3.0.{number}")
                phases["control"].append((span.started, span.finished))
                say(f"control switch {number}/{control_switches}: {seconds(span)} s")
        finally:
            records = load.stop()
        requests = sandbox.cluster.requests

    def moves_in(name: str) -> list[measure.Move]:
        return [
            move
            for start, end in phases[name]
            for move in measure.moves(
                requests,
                story.NAMESPACE,
                active=story.RELEASE,
                preview=preview,
                since=start,
                until=end,
            )
        ]

    def taken(name: str) -> list[LoadRecord]:
        return [r for r in records if any(s <= r.scheduled < e for s, e in phases[name])]

    default_moves, rollback_moves = moves_in("default"), moves_in("rollback")
    switch_ms = [m.latency_ms for m in default_moves if m.latency_ms is not None]
    switch_ms += [m.latency_ms for m in rollback_moves[0::2] if m.latency_ms is not None]
    rollback_ms = [m.latency_ms for m in rollback_moves[1::2] if m.latency_ms is not None]
    all_moves = default_moves + moves_in("control")
    windows = [
        Window(m.patched, m.patched + propagation_lag_seconds + SWITCH_WINDOW_EXTRA_SECONDS, "")
        for m in all_moves
    ]
    ok = [r for r in taken("default") if r.ok and r.latency is not None]
    during = [
        r.latency * 1000 for r in ok if r.latency is not None and in_any(r.scheduled, windows)
    ]
    outside = [
        r.latency * 1000 for r in ok if r.latency is not None and not in_any(r.scheduled, windows)
    ]
    default_records, control_records = taken("default"), taken("control")
    report = {
        "rate_per_second": rate_per_second,
        "propagation_lag_seconds": propagation_lag_seconds,
        "switches": len(default_moves),
        "requests_sent": len(default_records),
        "failed_requests": sum(1 for r in default_records if not r.ok),
        "failed_requests_by_error": dict(
            collections.Counter(str(r.error) for r in default_records if not r.ok)
        ),
        "control_switches": len(moves_in("control")),
        "control_requests_sent": len(control_records),
        "control_failed_requests": sum(1 for r in control_records if not r.ok),
        "control_failed_requests_by_error": dict(
            collections.Counter(str(r.error) for r in control_records if not r.ok)
        ),
        "rollbacks": len(rollback_moves) // 2,
        "rollback_requests_sent": len(taken("rollback")),
        "rollback_failed_requests": sum(1 for r in taken("rollback") if not r.ok),
        "switch_latency_ms": measure.summary_ms(switch_ms),
        "rollback_latency_ms": measure.summary_ms(rollback_ms),
        "client_latency_ms": {
            "during_switches": measure.summary_ms(during),
            "outside_switches": measure.summary_ms(outside),
        },
    }
    say(json.dumps(report, indent=2))
    (out / "bench-switch.json").write_text(json.dumps(report, indent=2) + "\n")
    phase_windows = [
        Window(spans[0][0], spans[-1][1], name) for name, spans in phases.items() if spans
    ]
    write_picture(
        records,
        out / "bench-switch.png",
        moments=[Moment(m.patched, "") for m in all_moves + rollback_moves],
        windows=phase_windows,
        title=f"bench-switch: {rate_per_second:g} req/s, {propagation_lag_seconds:g} s lag",
    )
    say(f"figures: {out / 'bench-switch.json'}; picture: {out / 'bench-switch.png'}")
    return report
