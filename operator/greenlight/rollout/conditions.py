"""The standard Kubernetes conditions of a Release, computed once at the end of a decision.

`kubectl wait --for=condition=...` works against these, so their meaning is part of the
contract: see the README's "Conditions" table.
"""

from __future__ import annotations

import datetime

from greenlight.models import IN_FLIGHT_PHASES, Condition, ConditionReason, Phase
from greenlight.rollout.observation import SpecProblem

AVAILABLE = "Available"
PROGRESSING = "Progressing"
PROMOTED = "Promoted"
DEGRADED = "Degraded"
INVALID_SPEC = "InvalidSpec"


def compute(
    previous: list[Condition],
    *,
    phase: Phase,
    available: tuple[bool, ConditionReason, str],
    invalid_spec: SpecProblem | None,
    message: str,
    generation: int,
    now: datetime.datetime,
) -> list[Condition]:
    reason = ConditionReason.of_phase(phase)
    wanted = [
        # Whether the active Service, as observed, selects ready pods; else what is missing.
        _make(AVAILABLE, *available),
        _make(PROGRESSING, phase in IN_FLIGHT_PHASES, reason, message),
        _make(PROMOTED, phase in (Phase.POST_VERIFICATION, Phase.SUCCEEDED), reason, message),
        _make(DEGRADED, phase in (Phase.ROLLED_BACK, Phase.FAILED), reason, message),
        _make(
            INVALID_SPEC,
            invalid_spec is not None,
            invalid_spec.reason if invalid_spec else ConditionReason.SPEC_VALID,
            f"{invalid_spec.field} {invalid_spec.message}" if invalid_spec else "",
        ),
    ]
    before = {condition.type: condition for condition in previous}
    result: list[Condition] = []
    for condition in wanted:
        old = before.get(condition.type)
        changed = old is None or old.status != condition.status
        result.append(
            condition.model_copy(
                update={
                    "last_transition_time": now
                    if changed or old is None
                    else old.last_transition_time,
                    "observed_generation": generation,
                }
            )
        )
    return result


def _make(kind: str, true: bool, reason: ConditionReason, message: str) -> Condition:
    return Condition(type=kind, status="True" if true else "False", reason=reason, message=message)
