"""The shape of a `Release`: its spec and status, as pydantic models (one module each).

These models are the single source of truth for the resource's shape. The CRD's
`openAPIV3Schema` is generated from them (`greenlight.crd`), the operator parses specs with
them, and the API service and CLI read status through them. A field is described once, here,
with its bounds and its default; a test fails when the committed CRD drifts from them.

The package must stay free of I/O and of the Kubernetes client: it is imported everywhere.
"""

from greenlight.models.reasons import ConditionReason, EventReason
from greenlight.models.resource import (
    ACTION_ANNOTATIONS,
    ANNOTATION_ABORT,
    ANNOTATION_PROMOTE,
    ANNOTATION_RECHECK,
    ANNOTATION_ROLLBACK_TO,
    API_VERSION,
    DNS_LABEL,
    FINALIZER,
    GROUP,
    IN_FLIGHT_PHASES,
    KIND,
    LABEL_COLOR,
    LABEL_RELEASE,
    LABEL_REVISION,
    MAX_RELEASE_NAME,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    Color,
    GatePhase,
    Outcome,
    Phase,
)
from greenlight.models.spec import (
    GateSpec,
    HttpProbeSpec,
    NotificationSpec,
    NotifyOn,
    ReleaseSpec,
    ServiceSpec,
    StrategySpec,
    VerificationSpec,
)
from greenlight.models.status import (
    Condition,
    GateStatus,
    HistoryEntry,
    PendingEvent,
    PendingNotification,
    ReleaseStatus,
    parse_time,
)

__all__ = [
    "ACTION_ANNOTATIONS",
    "ANNOTATION_ABORT",
    "ANNOTATION_PROMOTE",
    "ANNOTATION_RECHECK",
    "ANNOTATION_ROLLBACK_TO",
    "API_VERSION",
    "DNS_LABEL",
    "FINALIZER",
    "GROUP",
    "IN_FLIGHT_PHASES",
    "KIND",
    "LABEL_COLOR",
    "LABEL_RELEASE",
    "LABEL_REVISION",
    "MAX_RELEASE_NAME",
    "PLURAL",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "Color",
    "Condition",
    "ConditionReason",
    "EventReason",
    "GatePhase",
    "GateSpec",
    "GateStatus",
    "HistoryEntry",
    "HttpProbeSpec",
    "NotificationSpec",
    "NotifyOn",
    "Outcome",
    "PendingEvent",
    "PendingNotification",
    "Phase",
    "ReleaseSpec",
    "ReleaseStatus",
    "ServiceSpec",
    "StrategySpec",
    "VerificationSpec",
    "parse_time",
]
