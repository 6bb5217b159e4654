"""What one observed state of a Release means for `greenlight wait`: a pure table of cases."""

from __future__ import annotations

from typing import Any

import pytest

from greenlight import models
from greenlight.cli.exits import ExitCode
from greenlight.cli.wait import WaitFor, judge


def release(
    *,
    generation: int = 2,
    annotations: dict[str, str] | None = None,
    **status: Any,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "generation": generation,
            "annotations": annotations or {},
        },
        "status": {"observedGeneration": 2, "currentRevision": 4, **status},
    }


def verdict_of(obj: dict[str, Any], wait_for: WaitFor = WaitFor.SUCCEEDED) -> tuple[bool, int]:
    verdict = judge(obj, models.ReleaseStatus.model_validate(obj["status"]), wait_for)
    return verdict.finished, int(verdict.exit_code)


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Pending", (False, 0)),
        ("Progressing", (False, 0)),
        ("Verifying", (False, 0)),
        ("AwaitingPromotion", (False, 0)),
        ("PostVerification", (False, 0)),
        ("Succeeded", (True, 0)),
        ("RolledBack", (True, 1)),
        ("Aborted", (True, 1)),
        ("Failed", (True, 1)),
    ],
)
def test_each_phase_when_waiting_for_success(phase: str, expected: tuple[bool, int]) -> None:
    assert verdict_of(release(phase=phase)) == expected


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Verifying", (False, 0)),
        ("AwaitingPromotion", (True, 0)),
        ("PostVerification", (True, 0)),
        ("Succeeded", (True, 0)),
        ("RolledBack", (True, 1)),
    ],
)
def test_each_phase_when_waiting_until_promotable(phase: str, expected: tuple[bool, int]) -> None:
    assert verdict_of(release(phase=phase), WaitFor.PROMOTABLE) == expected


@pytest.mark.parametrize("phase", ["Succeeded", "RolledBack", "Failed"])
def test_a_terminal_phase_of_an_older_generation_does_not_count(phase: str) -> None:
    stale = release(generation=3, phase=phase)
    verdict = judge(stale, models.ReleaseStatus.model_validate(stale["status"]), WaitFor.SUCCEEDED)
    assert not verdict.finished
    assert "generation 3" in verdict.summary


def test_a_terminal_phase_does_not_count_while_an_action_is_pending() -> None:
    asked = release(phase="Succeeded", annotations={models.ANNOTATION_ROLLBACK_TO: "2"})
    finished, _ = verdict_of(asked)
    assert not finished


def test_a_malformed_annotation_does_not_hold_the_wait() -> None:
    left_over = release(phase="Succeeded", annotations={models.ANNOTATION_ROLLBACK_TO: "abc"})
    assert verdict_of(left_over) == (True, 0)


def test_the_failure_summary_carries_the_operators_message() -> None:
    failed = release(phase="RolledBack", message="gate readyz failed 3 times: HTTP 500")
    status = models.ReleaseStatus.model_validate(failed["status"])
    verdict = judge(failed, status, WaitFor.SUCCEEDED)
    assert verdict.exit_code is ExitCode.RELEASE_FAILED
    assert "shop/web" in verdict.summary
    assert "gate readyz failed 3 times: HTTP 500" in verdict.summary


def test_an_unfinished_release_says_what_it_waits_for() -> None:
    obj = release(
        phase="Progressing",
        message="rolling out revision 4 into green",
        waiting={"reason": "PodsReady", "message": "waiting: green's pods to become ready"},
    )
    verdict = judge(obj, models.ReleaseStatus.model_validate(obj["status"]), WaitFor.SUCCEEDED)
    assert verdict.summary == (
        "release shop/web is Progressing: rolling out revision 4 into green "
        "(waiting: green's pods to become ready)"
    )
