"""The Release resource's names, labels, annotations and enumerations: the vocabulary of the
contract that spec, status, the operator, the CLI and the API service all speak."""

from __future__ import annotations

import enum

GROUP = "greenlight.dev"
VERSION = "v1alpha1"
KIND = "Release"
PLURAL = "releases"
SINGULAR = "release"
SHORT_NAMES = ("rel",)
API_VERSION = f"{GROUP}/{VERSION}"
# The operator's finalizer on every Release it serves (Kopf's persistence setting); the
# uninstall hook (`greenlight.uninstall`) removes it, and nothing else, before the operator goes.
FINALIZER = f"{GROUP}/finalizer"

# Labels and annotations of the contract.
LABEL_RELEASE = f"{GROUP}/release"
LABEL_COLOR = f"{GROUP}/color"
LABEL_REVISION = f"{GROUP}/revision"
ANNOTATION_PROMOTE = f"{GROUP}/promote"
ANNOTATION_ABORT = f"{GROUP}/abort"
ANNOTATION_ROLLBACK_TO = f"{GROUP}/rollback-to"
ACTION_ANNOTATIONS = (ANNOTATION_PROMOTE, ANNOTATION_ABORT, ANNOTATION_ROLLBACK_TO)
# Set by the operator itself when an object it owns changed under it (deleted by hand, or by
# the garbage collector): the Release is looked at again, and the annotation removed.
ANNOTATION_RECHECK = f"{GROUP}/recheck"

# A DNS-1035 label, as Services require of their names.
DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# The longest Release name whose derived names all fit in a DNS label (63 characters): the
# preview Service `<name>-preview` adds the most (8), then the Deployments `<name>-green`.
# The name is also the value of the `greenlight.dev/release` label (63 at most).
MAX_RELEASE_NAME = 63 - len("-preview")


class Color(enum.StrEnum):
    """The two slots a Release deploys into; traffic follows exactly one of them."""

    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Color:
        return Color.GREEN if self is Color.BLUE else Color.BLUE


class Phase(enum.StrEnum):
    """Where a Release is in its life; see the README for each phase's meaning."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    VERIFYING = "Verifying"
    AWAITING_PROMOTION = "AwaitingPromotion"
    POST_VERIFICATION = "PostVerification"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        """A terminal phase needs no more work until the spec or an annotation changes."""
        return self in _TERMINAL_PHASES


_TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED})
# Phases with a release in flight: the operator keeps ticking the Release while in one.
IN_FLIGHT_PHASES = frozenset(phase for phase in Phase if phase not in _TERMINAL_PHASES)


class GatePhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    PASSED = "Passed"
    FAILED = "Failed"


class Outcome(enum.StrEnum):
    """How one revision's release ended, as recorded in `status.history`."""

    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"
