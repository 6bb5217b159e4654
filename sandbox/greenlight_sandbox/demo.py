"""`make demo`: the story of four revisions of the sample app, under steady real traffic.

On the running system (sandbox cluster, real operator, API service released blue-green), the
sample app "shop" is released, then updated three times while an open-loop load generator
sends requests to its Service's proxy: an update that switches with no failed request, one that
never passes its pre-switch gates (and never gets traffic), and one that fails after the switch
and is switched back by the operator. The `greenlight` CLI follows each step as a user would.
The report gives requests sent and failed by step, switch and rollback latency, and a picture.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable
from typing import Any

from greenlight_sandbox import measure, story
from greenlight_sandbox.loadgen import LoadGenerator, LoadRecord
from greenlight_sandbox.programs import greenlight_cli
from greenlight_sandbox.report import Moment, Window, write_picture
from greenlight_sandbox.system import (
    NOTIFICATIONS_CHANNEL,
    RunningSystem,
    Step,
    release_and_settle,
    running_system,
    wait_serving,
)

STEP_TIMEOUT_SECONDS = 90.0


@dataclasses.dataclass
class StoryStep:
    revision: story.Revision
    step: Step
    moves: list[measure.Move] = dataclasses.field(default_factory=list)

    def records(self, records: list[LoadRecord]) -> list[LoadRecord]:
        return [r for r in records if self.step.started <= r.scheduled < self.step.finished]


def run_step(
    system: RunningSystem, revision: story.Revision, say: Callable[[str], None]
) -> StoryStep:
    sandbox = system.sandbox
    say(f"\n== {revision.title}")
    exit_codes: list[int] = []

    def follow() -> None:
        wait = ["wait", story.RELEASE, "-n", story.NAMESPACE, "--timeout", "90s"]
        done = greenlight_cli(sandbox.kubeconfig_path, wait, timeout=STEP_TIMEOUT_SECONDS + 10)
        exit_codes.append(done.returncode)

    release = story.subscribed(
        story.with_revision(story.shop_release(), revision), NOTIFICATIONS_CHANNEL
    )
    step = release_and_settle(sandbox, release, STEP_TIMEOUT_SECONDS, follow=follow)
    say(f"(greenlight wait exited {exit_codes[0]}; phase {step.phase})")
    return StoryStep(revision, step)


def figures(
    steps: list[StoryStep], records: list[LoadRecord], system: RunningSystem
) -> dict[str, Any]:
    """The report: per step and in total; latencies of switches and of switches back."""
    requests = system.sandbox.cluster.requests
    preview = story.shop_release()["spec"]["service"]["previewName"]
    switch_ms: list[float] = []
    rollback_ms: list[float] = []
    report_steps = []
    for step in steps:
        step.moves = measure.moves(
            requests,
            story.NAMESPACE,
            active=story.RELEASE,
            preview=preview,
            since=step.step.started,
            until=step.step.finished,
        )
        latencies = [m.latency_ms for m in step.moves if m.latency_ms is not None]
        if step.revision is story.FAILS_AFTER_SWITCH:
            switch_ms += latencies[:1]
            rollback_ms += latencies[1:]
        else:
            switch_ms += latencies
        taken = step.records(records)
        report_steps.append(
            {
                "version": step.revision.version,
                "title": step.revision.title,
                "phase": step.step.phase,
                "expected_phase": step.revision.expected_phase,
                "seconds": round(step.step.finished - step.step.started, 1),
                "requests_sent": len(taken),
                "failed_requests": sum(1 for r in taken if not r.ok),
                "traffic_moves": len(step.moves),
            }
        )
    return {
        "requests_sent": len(records),
        "failed_requests": sum(1 for r in records if not r.ok),
        "steps": report_steps,
        "switch_latency_ms": measure.summary_ms(switch_ms),
        "rollback_latency_ms": measure.summary_ms(rollback_ms),
        "sandbox_ready_seconds": round(system.sandbox.ready_seconds or 0.0, 2),
    }


def print_report(report: dict[str, Any], say: Callable[[str], None]) -> None:
    say("\n== report")
    say(f"{'step':<8}{'phase':<12}{'seconds':>8}{'sent':>8}{'failed':>8}{'moves':>7}")
    for step in report["steps"]:
        say(
            f"{step['version']:<8}{step['phase']:<12}{step['seconds']:>8}"
            f"{step['requests_sent']:>8}{step['failed_requests']:>8}{step['traffic_moves']:>7}"
        )
    say(f"requests sent {report['requests_sent']}, failed {report['failed_requests']}")
    say(f"switch latency ms {report['switch_latency_ms']}")
    say(f"rollback latency ms {report['rollback_latency_ms']}")


def run(
    workdir: pathlib.Path,
    out: pathlib.Path,
    *,
    rate_per_second: float = 50.0,
    propagation_lag_seconds: float = 1.0,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the story; write ``out/demo.json`` and ``out/demo.png``; return the report."""
    out.mkdir(parents=True, exist_ok=True)
    with running_system(
        workdir, propagation_lag_seconds=propagation_lag_seconds, say=say
    ) as system:
        sandbox = system.sandbox
        sandbox.ensure_namespace(story.NAMESPACE)
        run_step(system, story.FIRST, say)  # before the load: no requests belong to it
        url = sandbox.service_url(story.NAMESPACE, story.RELEASE)
        wait_serving(f"{url}/")
        say(f"\n== steady load: {rate_per_second:g} requests/s to {url}/ (the Service's proxy)")
        load = LoadGenerator(f"{url}/", rate_per_second=rate_per_second, timeout_seconds=2.0)
        load.start()
        try:
            steps = [run_step(system, revision, say) for revision in story.STORY[1:]]
        finally:
            records = load.stop()
        report = figures(steps, records, system)
        report["dashboard_url"] = system.dashboard_url
        print_report(report, say)
        moments = [Moment(move.patched, "traffic moved") for step in steps for move in step.moves]
        windows = [Window(s.step.started, s.step.finished, s.revision.version) for s in steps]
        write_picture(
            records,
            out / "demo.png",
            moments=moments,
            windows=windows,
            title="make demo: requests answered by colour, failures, traffic moves",
        )
        (out / "demo.json").write_text(json.dumps(report, indent=2) + "\n")
        say(f"\nreport: {out / 'demo.json'}; picture: {out / 'demo.png'}")
    return report
