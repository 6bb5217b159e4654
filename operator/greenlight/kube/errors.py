"""Typed failures of the cluster adapters that callers act on (rather than retry).

Transient API errors never arrive here: `greenlight.kube.retry` retries them, and what is left
after the retries is the client's own `ApiException`.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Something in the cluster prevents an action; retrying at once will not help."""


class ForeignObject(GatewayError):
    """An object the Release would own exists and belongs to someone else: it is never touched."""

    def __init__(self, *, kind: str, namespace: str, name: str) -> None:
        super().__init__(
            f"{kind} {namespace}/{name} exists and is not owned by this Release; "
            "it is left untouched"
        )
        self.kind = kind
        self.namespace = namespace
        self.name = name


class RevisionNotFound(GatewayError):
    """The pod template of a revision is no longer stored, so it cannot be deployed."""

    def __init__(self, *, namespace: str, release: str, revision: int) -> None:
        super().__init__(f"revision {revision} of {namespace}/{release} is not stored")
        self.revision = revision


class TemplateMismatch(GatewayError):
    """Asked to store a template under a hash it does not have: status and spec disagree."""


class TemplateRejected(GatewayError):
    """The API server refused the Deployment built from a revision's pod template (400/422):
    the template is invalid in a way the Release's schema could not see."""

    def __init__(self, *, revision: int, reason: str) -> None:
        super().__init__(f"the pod template of revision {revision} is refused: {reason}")
        self.revision = revision
        self.reason = reason
