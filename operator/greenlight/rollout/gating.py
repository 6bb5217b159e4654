"""Gate bookkeeping: which gates are due for a probe, and how one probe result moves a gate.

A gate's state lives in `status.gates`, so a restarted operator continues counting where it
stopped. Results are only folded in from real probes (`ProbeResult`), never made up.
"""

from __future__ import annotations

import dataclasses
import datetime

from greenlight import models
from greenlight.models import GatePhase, GateSpec, GateStatus, Phase
from greenlight.rollout.actions import ServiceRole
from greenlight.rollout.observation import ProbeResult


@dataclasses.dataclass(frozen=True, kw_only=True)
class DueProbe:
    """A gate to probe on this tick, and which Service it probes."""

    gate: GateSpec
    field: str  # where the gate is declared, for error messages: `spec.gates[0]`
    role: ServiceRole


def gates_for_phase(spec: models.ReleaseSpec, phase: Phase) -> tuple[list[GateSpec], str]:
    """The gates that run in `phase`, and the spec field they are declared under."""
    if phase is Phase.VERIFYING:
        return list(spec.gates), "spec.gates"
    if phase is Phase.POST_VERIFICATION:
        return list(spec.verifying.gates), "spec.verification.gates"
    return [], ""


# Ticks come every GREENLIGHT_TICK_SECONDS (1 s by default), so a probe may come a little
# after its interval; this much lateness beyond one missed probe still counts as watched.
PROBE_GAP_SLACK_SECONDS = 2.0


def allowed_probe_gap(gate: GateSpec) -> float:
    """The longest time between two probes of `gate` that still counts as watching.

    Longer means at least one probe was missed entirely (the operator was stopped, or its
    probes could not reach the colour under test): what happened meanwhile was not observed.
    """
    return 2 * gate.interval_seconds + PROBE_GAP_SLACK_SECONDS


def fresh_gate_statuses(gates: list[GateSpec]) -> list[GateStatus]:
    return [GateStatus(name=gate.name) for gate in gates]


def due_probes(
    spec: models.ReleaseSpec, status: models.ReleaseStatus, now: datetime.datetime
) -> list[DueProbe]:
    """Gates whose interval has passed since their last probe, in the phase's order."""
    gates, field = gates_for_phase(spec, status.phase)
    role = ServiceRole.PREVIEW if status.phase is Phase.VERIFYING else ServiceRole.ACTIVE
    known = {gate.name: gate for gate in status.gates}
    due: list[DueProbe] = []
    for index, gate in enumerate(gates):
        state = known.get(gate.name)
        if state is not None and not _still_probing(state, status.phase):
            continue
        last = state.last_probe_time if state is not None else None
        if last is None or now >= last + datetime.timedelta(seconds=gate.interval_seconds):
            due.append(DueProbe(gate=gate, field=f"{field}[{index}]", role=role))
    return due


def _still_probing(state: GateStatus, phase: Phase) -> bool:
    if state.phase is GatePhase.FAILED:
        return False
    # Before the switch a passed gate is done. After it, verification keeps watching for the
    # whole window: a gate that passed can still fail.
    return not (phase is Phase.VERIFYING and state.phase is GatePhase.PASSED)


def fold_probe(state: GateStatus, gate: GateSpec, result: ProbeResult) -> GateStatus:
    """The gate's state after one probe result."""
    if result.ok:
        successes, failures = state.successes + 1, 0
        phase = GatePhase.PASSED if successes >= gate.success_threshold else GatePhase.RUNNING
        if state.phase is GatePhase.PASSED:
            phase = GatePhase.PASSED
    else:
        successes, failures = 0, state.failures + 1
        if failures >= gate.failure_threshold:
            phase = GatePhase.FAILED
        elif state.phase is GatePhase.PASSED:
            phase = GatePhase.PASSED  # one failure after passing is noted, not yet fatal
        else:
            phase = GatePhase.RUNNING
    return state.model_copy(
        update={
            "phase": phase,
            "successes": successes,
            "failures": failures,
            "last_message": result.message,
            "last_probe_time": result.at,
        }
    )


def fold_results(
    spec: models.ReleaseSpec,
    phase: Phase,
    states: list[GateStatus],
    results: tuple[ProbeResult, ...],
) -> list[GateStatus]:
    """Every gate of the phase, with this tick's probe results applied in order."""
    gates, _ = gates_for_phase(spec, phase)
    by_name = {state.name: state for state in states}
    folded: list[GateStatus] = []
    for gate in gates:
        state = by_name.get(gate.name, GateStatus(name=gate.name))
        for result in results:
            if result.gate == gate.name:
                state = fold_probe(state, gate, result)
        folded.append(state)
    return folded


def first_failed(states: list[GateStatus]) -> GateStatus | None:
    return next((state for state in states if state.phase is GatePhase.FAILED), None)


def all_passed(states: list[GateStatus]) -> bool:
    return all(state.phase is GatePhase.PASSED for state in states)
