"""The only place that names gate kinds: which kind a gate declares, and how it is built.

A new kind is one module implementing `Gate` and one entry in `_KINDS`. A gate whose kind this
operator does not know is refused with the field that names it (`spec.gates[1].tcp`), which the
handlers turn into `phase: Failed` with an `InvalidSpec` condition, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenlight.gates.base import Gate, Transport
from greenlight.gates.http import HttpGate
from greenlight.models import GateSpec

_KINDS: dict[str, Callable[[Any, Transport], Gate]] = {
    "http": HttpGate,
}


class UnsupportedGate(Exception):
    """A gate this operator cannot run; `field` names it in the Release."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


def check_gate(spec: GateSpec, field_path: str) -> UnsupportedGate | None:
    """Why `spec` (declared at `field_path`, e.g. `spec.gates[1]`) cannot run, or None."""
    known = ", ".join(sorted(_KINDS))
    for key in sorted((spec.model_extra or {}).keys()):
        return UnsupportedGate(
            f"{field_path}.{key}", f"is not a gate kind this operator knows (known: {known})"
        )
    declared = [kind for kind in _KINDS if getattr(spec, kind, None) is not None]
    if not declared:
        return UnsupportedGate(field_path, f"declares no probe; give exactly one of: {known}")
    if len(declared) > 1:
        return UnsupportedGate(
            field_path, f"declares {' and '.join(declared)}; give exactly one probe"
        )
    return None


def build_gate(spec: GateSpec, field_path: str, transport: Transport) -> Gate:
    """The gate `spec` declares; raises `UnsupportedGate` naming the field when it cannot."""
    problem = check_gate(spec, field_path)
    if problem is not None:
        raise problem
    kind = next(kind for kind in _KINDS if getattr(spec, kind, None) is not None)
    return _KINDS[kind](getattr(spec, kind), transport)
