"""The reasons the operator writes: of its Events and of its conditions.

The values are a contract: users filter Events on them (`kubectl get events
--field-selector reason=SwitchBack`) and read them in conditions, and docs/operator.md lists
them. Every place that writes a reason takes a member of these enums, and nothing decides
anything by comparing their strings: what a decision did is a structured field of it.
"""

from __future__ import annotations

import enum

from greenlight.models.resource import GatePhase, Phase


class EventReason(enum.StrEnum):
    """The reason of an Event the operator posts on a Release."""

    RELEASE_STARTED = "ReleaseStarted"
    SWITCH_SERVICE = "SwitchService"
    SWITCH_BACK = "SwitchBack"
    SCALED_DOWN = "ScaledDown"
    PROMOTE_USED = "PromoteUsed"
    ACTION_IGNORED = "ActionIgnored"
    ROLLBACK_REFUSED = "RollbackRefused"
    INVALID_SPEC = "InvalidSpec"
    VERIFICATION_RESTARTED = "VerificationRestarted"
    SERVICE_REMOVED = "ServiceRemoved"
    SERVICE_RESTORED = "ServiceRestored"
    DEPLOYMENT_RESTORED = "DeploymentRestored"
    NOTIFICATION_FAILED = "NotificationFailed"
    GATE_PASSED = "GatePassed"
    GATE_FAILED = "GateFailed"
    # Entering a phase posts an Event named after it.
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    VERIFYING = "Verifying"
    AWAITING_PROMOTION = "AwaitingPromotion"
    POST_VERIFICATION = "PostVerification"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"

    @classmethod
    def entered(cls, phase: Phase) -> EventReason:
        """The reason of the Event that says a Release entered `phase`."""
        return cls(str(phase))

    @classmethod
    def gate(cls, phase: GatePhase) -> EventReason:
        """The reason of the Event that says a gate reached `phase` (passed or failed)."""
        return _GATE_EVENTS[phase]


_GATE_EVENTS = {
    GatePhase.PASSED: EventReason.GATE_PASSED,
    GatePhase.FAILED: EventReason.GATE_FAILED,
}


class ConditionReason(enum.StrEnum):
    """The reason of a condition in a Release's status."""

    # `Available`: why the active Service does, or does not, serve.
    ACTIVE_COLOR_SERVING = "ActiveColorServing"
    ACTIVE_SERVICE_MISSING = "ActiveServiceMissing"
    NO_SERVING_COLOR = "NoServingColor"
    ACTIVE_DEPLOYMENT_MISSING = "ActiveDeploymentMissing"
    NO_READY_PODS = "NoReadyPods"
    # `InvalidSpec`.
    INVALID_SPEC = "InvalidSpec"
    FOREIGN_OBJECT = "ForeignObject"  # an object the Release would own belongs to another
    SPEC_VALID = "SpecValid"
    # `Progressing`, `Promoted` and `Degraded` give the phase.
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    VERIFYING = "Verifying"
    AWAITING_PROMOTION = "AwaitingPromotion"
    POST_VERIFICATION = "PostVerification"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"

    @classmethod
    def of_phase(cls, phase: Phase) -> ConditionReason:
        """The reason of a condition that gives the phase."""
        return cls(str(phase))


class WaitingReason(enum.StrEnum):
    """What a decision waits for before the release moves on (`status.waiting`; see
    docs/operator.md)."""

    PODS_READY = "PodsReady"
    GATE_PASSES = "GatePasses"
    TRAFFIC_SETTLING = "TrafficSettling"
    SCALE_DOWN_DELAY = "ScaleDownDelay"
    ENDPOINTS = "Endpoints"
