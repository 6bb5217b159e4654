"""The reasons the operator writes are the members of `EventReason` and `ConditionReason`:
the documented list, what the decision emits, and no string copies of them elsewhere."""

from __future__ import annotations

import ast
import pathlib
import re

from greenlight import models
from greenlight.models import ConditionReason, EventReason, GatePhase, Phase
from greenlight.rollout import actions as act
from tests.unit.rollout_world import World, spec_of

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "greenlight"
GATES = [{"name": "ready", "http": {"path": "/"}, "successThreshold": 1, "intervalSeconds": 1}]
VERIFY = {
    "durationSeconds": 3,
    "gates": [{"name": "smoke", "http": {"path": "/healthz"}, "intervalSeconds": 1}],
}
FAST = {"scaleDownDelaySeconds": 0, "progressDeadlineSeconds": 30}


def _documented(heading: str) -> set[str]:
    """The backquoted names in the first column of the table after `heading` in
    docs/operator.md."""
    text = (ROOT / "docs" / "operator.md").read_text()
    table = text.split(heading, 1)[1].split("\n\n", 2)[1]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        names |= set(re.findall(r"`([A-Za-z]+)`", row.split("|")[1]))
    return names


def test_event_reasons_are_the_documented_list() -> None:
    assert {str(reason) for reason in EventReason} == _documented("An Event's reason is one of")


def test_condition_reasons_are_the_documented_ones_and_the_phases() -> None:
    text = (ROOT / "docs" / "operator.md").read_text()
    available = text.split("| `Available` |", 1)[1].splitlines()[0]
    documented = set(re.findall(r"`([A-Za-z]+)`", available))
    sentence = " ".join(text.split()).split("for `InvalidSpec`, ", 1)[1].split("; for the", 1)[0]
    documented |= {"ActiveColorServing", *re.findall(r"`([A-Za-z]+)`", sentence)}
    assert "A condition's reason is, for `Available`, `ActiveColorServing`" in text
    assert {str(reason) for reason in ConditionReason} == documented | {str(p) for p in Phase}


def test_every_phase_and_gate_verdict_has_its_reason() -> None:
    for phase in Phase:
        assert EventReason.entered(phase) == str(phase)
        assert ConditionReason.of_phase(phase) == str(phase)
    assert EventReason.gate(GatePhase.PASSED) is EventReason.GATE_PASSED
    assert EventReason.gate(GatePhase.FAILED) is EventReason.GATE_FAILED


def _worlds() -> list[World]:
    """Releases that between them pass through every phase and most Events."""
    happy = World(spec=spec_of(gates=GATES, verification=VERIFY, strategy=FAST))
    happy.run_until_phase(Phase.SUCCEEDED)
    happy.update_spec(spec_of("app:2", gates=GATES, verification=VERIFY, strategy=FAST))
    happy.run_until_phase(Phase.SUCCEEDED)
    happy.annotate(models.ANNOTATION_ROLLBACK_TO, "1")
    happy.run_until_phase(Phase.SUCCEEDED)
    happy.annotate(models.ANNOTATION_ROLLBACK_TO, "99")
    happy.run(3)

    failing = World(spec=spec_of(gates=GATES, verification=VERIFY, strategy=FAST))
    failing.run_until_phase(Phase.SUCCEEDED)
    failing.gate_health = lambda revision, role, gate, tick: revision < 2 or gate == "ready"
    failing.update_spec(spec_of("app:2", gates=GATES, verification=VERIFY, strategy=FAST))
    failing.run_until_phase(Phase.ROLLED_BACK)

    aborted = World(spec=spec_of(gates=GATES, verification=VERIFY, strategy=FAST))
    aborted.run_until_phase(Phase.SUCCEEDED)
    aborted.update_spec(spec_of("app:2", gates=GATES, verification=VERIFY, strategy=FAST))
    aborted.run_until_phase(Phase.POST_VERIFICATION)
    aborted.annotate(models.ANNOTATION_ABORT)
    aborted.run_until_phase(Phase.ABORTED)
    return [happy, failing, aborted]


def test_the_decision_emits_enum_members_and_reports_its_switches() -> None:
    emitted: set[str] = set()
    for world in _worlds():
        # `World` records a violation for a reason that is not an enum member, and for
        # switches that differ from the SwitchService/SwitchBack Events.
        assert world.violations == []
        emitted |= set(world.event_reasons())
    assert emitted <= set(EventReason)
    assert {"SwitchService", "SwitchBack", "GatePassed", "GateFailed", "RolledBack"} <= emitted
    assert {"Aborted", "RollbackRefused", "ScaledDown", "ReleaseStarted"} <= emitted


def test_the_decision_reports_its_switches_in_a_field() -> None:
    happy, failing, aborted = _worlds()
    forward, back = act.Switch.FORWARD, act.Switch.BACK
    # First release, second release, instant rollback to revision 1.
    assert happy.switches == [forward, forward, forward]
    assert failing.switches == [forward, forward, back]
    assert aborted.switches == [forward, forward, back]


def _reason_copies() -> list[str]:
    """String literals of the operator's code that equal a reason and are no other name."""
    others = {str(v) for e in (Phase, GatePhase, models.Outcome) for v in e}
    others |= {"Available", "Progressing", "Promoted", "Degraded", "InvalidSpec"}  # types
    reasons = ({str(r) for r in EventReason} | {str(r) for r in ConditionReason}) - others
    found: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "models" / "reasons.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in reasons:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}")
    return found


def test_no_reason_is_spelt_out_beside_its_enum() -> None:
    assert _reason_copies() == []
