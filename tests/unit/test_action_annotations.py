"""One table of action annotation values, read by the operator, the CLI and the API alike.

Every value is either pending (the operator will act on it, `greenlight wait` waits for it, the
API and dashboard list it) or malformed (the operator drops it with a Warning naming what it
expected, `wait` does not wait for it, the API does not list it). No reader may disagree.
"""

from __future__ import annotations

from typing import Any

import pytest

from greenlight import models, user_actions
from greenlight.cli.wait import WaitFor, judge
from greenlight.models import Phase
from greenlight_api import records
from tests.unit.rollout_world import World, spec_of

PROMOTE, ABORT, ROLLBACK_TO = (
    models.ANNOTATION_PROMOTE,
    models.ANNOTATION_ABORT,
    models.ANNOTATION_ROLLBACK_TO,
)
PENDING, MALFORMED = True, False

TABLE = [
    (PROMOTE, "true", PENDING),
    (PROMOTE, "True", PENDING),
    (PROMOTE, " true ", PENDING),
    (PROMOTE, "3", PENDING),
    (PROMOTE, " 3", PENDING),
    (PROMOTE, "yes", MALFORMED),
    (PROMOTE, "false", MALFORMED),
    (PROMOTE, "", MALFORMED),
    (PROMOTE, "0", MALFORMED),
    (PROMOTE, "-1", MALFORMED),
    (PROMOTE, "3.0", MALFORMED),
    (PROMOTE, "³", MALFORMED),
    (ABORT, "true", PENDING),
    (ABORT, "TRUE", PENDING),
    (ABORT, "3", MALFORMED),
    (ABORT, "yes", MALFORMED),
    (ABORT, "", MALFORMED),
    (ROLLBACK_TO, "3", PENDING),
    (ROLLBACK_TO, " 3", PENDING),
    (ROLLBACK_TO, "true", MALFORMED),
    (ROLLBACK_TO, "abc", MALFORMED),
    (ROLLBACK_TO, "0", MALFORMED),
    (ROLLBACK_TO, "-1", MALFORMED),
    (ROLLBACK_TO, "", MALFORMED),
    (ROLLBACK_TO, "³", MALFORMED),
]
CASES = pytest.mark.parametrize(("key", "value", "pending"), TABLE)


def body(key: str, value: str) -> dict[str, Any]:
    metadata = {"name": "web", "namespace": "shop", "generation": 1, "annotations": {key: value}}
    status = {"phase": "Succeeded", "observedGeneration": 1, "currentRevision": 1}
    return {"metadata": metadata, "status": status}


@CASES
def test_the_operator_acts_on_pending_values_and_drops_malformed_ones(
    key: str, value: str, pending: bool
) -> None:
    world = World(spec=spec_of())
    world.run_until_phase(Phase.SUCCEEDED)
    world.annotate(key, value)
    world.step()
    dropped_as_malformed = [
        event
        for event in world.events
        if event.reason == "ActionIgnored" and "is not" in event.message
    ]
    assert bool(dropped_as_malformed) is not pending
    assert key not in world.annotations  # acted on, refused or dropped: removed either way


@CASES
def test_the_cli_waits_for_pending_values_only(key: str, value: str, pending: bool) -> None:
    release = body(key, value)
    verdict = judge(
        release, models.ReleaseStatus.model_validate(release["status"]), WaitFor.SUCCEEDED
    )
    assert verdict.finished is not pending


@CASES
def test_the_api_and_dashboard_list_pending_values_only(
    key: str, value: str, pending: bool
) -> None:
    record = records.from_body(body(key, value))
    assert bool(record.pending_actions) is pending
    assert record.ended is not pending


@CASES
def test_the_cli_and_the_api_refuse_another_action_beside_a_malformed_value(
    key: str, value: str, pending: bool
) -> None:
    other = ABORT if key != ABORT else PROMOTE
    plan = user_actions.ActionPlan(annotations={other: "true"}, description="")
    if pending:
        user_actions.refuse_beside_malformed("web", "shop", plan, {key: value})
    else:
        with pytest.raises(user_actions.ActionRefused, match="is malformed"):
            user_actions.refuse_beside_malformed("web", "shop", plan, {key: value})
