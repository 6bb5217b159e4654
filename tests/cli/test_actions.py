"""`promote`, `abort` and `rollback`: the annotation written, what is said, and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from greenlight import models
from greenlight_sandbox.emulator import EmulatedCluster
from tests.cli.conftest import NAMESPACE, VERIFYING, create_release, read_release, run_cli

AWAITING = {**VERIFYING, "phase": "AwaitingPromotion", "message": "every gate passed"}
SUCCEEDED = {
    **VERIFYING,
    "phase": "Succeeded",
    "activeColor": "green",
    "stableColor": "green",
    "stableRevision": 2,
    "scaleDownColor": "blue",
    "gates": [],
    "history": [
        {**VERIFYING["history"][0], "outcome": "Succeeded"},
        VERIFYING["history"][1],
    ],
}


def annotations_on(cluster: EmulatedCluster) -> dict[str, str]:
    return dict(read_release(cluster)["metadata"].get("annotations") or {})


def test_promote_writes_the_annotation_and_says_what_happens(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=AWAITING)

    result = run_cli(cluster, "promote", "web", "-n", NAMESPACE)

    assert result.exit_code == 0, result.output
    # The revision it is meant for, so that a superseding one is never promoted by it.
    assert annotations_on(cluster) == {models.ANNOTATION_PROMOTE: "2"}
    assert result.output.splitlines() == [
        "promote requested for shop/web: traffic of web moves to revision 2 (green), "
        "then post-switch verification runs if configured",
        "follow it with: greenlight wait web -n shop",
    ]


def test_abort_writes_the_annotation(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=VERIFYING)

    result = run_cli(cluster, "abort", "web", "-n", NAMESPACE)

    assert result.exit_code == 0, result.output
    assert annotations_on(cluster) == {models.ANNOTATION_ABORT: "true"}
    assert "stays on (or returns to) stable revision 1" in result.output


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (["rollback", "web"], "1"),
        (["rollback", "web", "--to-revision", "1"], "1"),
    ],
)
def test_rollback_writes_the_revision(
    cluster: EmulatedCluster, args: list[str], written: str
) -> None:
    create_release(cluster, status=SUCCEEDED)

    result = run_cli(cluster, *args, "-n", NAMESPACE)

    assert result.exit_code == 0, result.output
    assert annotations_on(cluster) == {models.ANNOTATION_ROLLBACK_TO: written}
    assert "releases revision 1 (registry.example.com/web:1.4.1)" in result.output


@pytest.mark.parametrize(
    ("status", "args", "why"),
    [
        (VERIFYING, ["promote", "web"], "promote refused: release web is Verifying"),
        (SUCCEEDED, ["promote", "web"], "promote refused: release web is Succeeded"),
        (SUCCEEDED, ["abort", "web"], "abort refused: release web is Succeeded: nothing is"),
        (
            SUCCEEDED,
            ["rollback", "web", "--to-revision", "7"],
            "rollback refused: release web has no revision 7 in its history (known: 1, 2)",
        ),
        (
            SUCCEEDED,
            ["rollback", "web", "--to-revision", "2"],
            "rollback refused: revision 2 of web is already the stable revision",
        ),
        (
            {**VERIFYING, "history": VERIFYING["history"][:1]},
            ["rollback", "web"],
            "rollback refused: release web has no earlier successful revision",
        ),
    ],
)
def test_an_action_that_makes_no_sense_now_is_refused_in_one_line(
    cluster: EmulatedCluster, status: dict[str, Any], args: list[str], why: str
) -> None:
    create_release(cluster, status=status)

    result = run_cli(cluster, *args, "-n", NAMESPACE)

    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(f"error: {why}")
    assert annotations_on(cluster) == {}


def test_a_malformed_annotation_left_by_another_tool_blocks_other_actions(
    cluster: EmulatedCluster,
) -> None:
    create_release(cluster, annotations={models.ANNOTATION_ROLLBACK_TO: "abc"}, status=AWAITING)

    result = run_cli(cluster, "promote", "web", "-n", NAMESPACE)

    assert result.exit_code == 1
    assert result.output == (
        'error: promote refused: release web carries greenlight.dev/rollback-to="abc", which is '
        'malformed (expected a revision number such as "3"); remove it with: kubectl annotate '
        "release web -n shop greenlight.dev/rollback-to-\n"
    )
    assert annotations_on(cluster) == {models.ANNOTATION_ROLLBACK_TO: "abc"}


def test_the_same_action_replaces_its_own_malformed_annotation(cluster: EmulatedCluster) -> None:
    create_release(cluster, annotations={models.ANNOTATION_ROLLBACK_TO: "abc"}, status=SUCCEEDED)

    result = run_cli(cluster, "rollback", "web", "-n", NAMESPACE, "--to-revision", "1")

    assert result.exit_code == 0, result.output
    assert annotations_on(cluster) == {models.ANNOTATION_ROLLBACK_TO: "1"}


def test_status_points_out_a_malformed_annotation(cluster: EmulatedCluster) -> None:
    create_release(cluster, annotations={models.ANNOTATION_PROMOTE: "yes"}, status=AWAITING)

    result = run_cli(cluster, "status", "web", "-n", NAMESPACE)

    assert result.exit_code == 0, result.output
    assert (
        'Malformed  greenlight.dev/promote="yes" (expected "true" or the revision number it '
        "promotes); the operator ignores it" in result.output.splitlines()
    )


def test_a_revision_below_one_is_a_usage_error(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=SUCCEEDED)

    result = run_cli(cluster, "rollback", "web", "-n", NAMESPACE, "--to-revision", "0")

    assert result.exit_code == 4
    assert "Invalid value for '--to-revision'" in result.output
