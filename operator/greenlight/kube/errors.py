"""Typed failures of the cluster adapters: the one vocabulary the operator, CLI and service share.

`translate()` is the only place that turns what the client raises (`ApiException`, urllib3's
and the socket's errors, a kubeconfig the client refuses) into a `KubeError` by HTTP status:
404 `NotFound`, 401/403 `Forbidden`, 409 `Conflict`, 410 `Expired`, 400/422 `Invalid`, no
answer at all `Unreachable`, an unusable kubeconfig `KubeconfigError`, anything else `ApiError`.
Each keeps what the API server said and what was being done, so that the CLI can write its
sentences and exit codes, and the service its HTTP answers, from the type alone.

The operator's `GatewayError`s are answers the reconciler acts on (never retried at once).
Transient API errors never reach the operator's adapters: `greenlight.kube.retry` retries them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any


class KubeError(Exception):
    """Talking to the API server failed. `status` is its HTTP answer (None: no answer);
    `message` what it (or the connection) said; `verb`, `namespace`, `name` what was asked."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        verb: str = "",
        namespace: str | None = None,
        name: str | None = None,
        resource: str = "releases",
    ) -> None:
        target = f"{resource} {namespace}/{name}" if name else f"{resource} in {namespace or '*'}"
        self.doing = f"{verb} {target}" if verb else ""  # "patch releases shop/web"
        super().__init__(f"{self.doing}: {message}" if verb else message)
        self.message = message
        self.status = status
        self.verb = verb
        self.namespace = namespace
        self.name = name
        self.resource = resource
        # 404 only: the resource type itself is unknown (no CRD), not one object missing.
        self.no_such_resource = False


class NotFound(KubeError):
    """404: no such object (or, with `no_such_resource`, no such resource type)."""


class Forbidden(KubeError):
    """401 (the credentials are refused) or 403 (the operation is)."""


class Conflict(KubeError):
    """409: a newer version exists, or the object already does."""


class Expired(KubeError):
    """410 Gone: the resourceVersion to watch from is too old; list again."""


class Invalid(KubeError):
    """400/422: the API server refused the request's content."""


class Unreachable(KubeError):
    """No answer: refused, timed out, TLS failed, or the connection was lost."""


class KubeconfigError(KubeError):
    """No usable kubeconfig or credentials, or the context asked for is not in it."""


class ApiError(KubeError):
    """Any other answer of the API server that is not a success."""


_BY_STATUS: dict[int, type[KubeError]] = {
    400: Invalid,
    401: Forbidden,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Expired,
    422: Invalid,
}


def translate(
    error: BaseException,
    *,
    verb: str = "",
    namespace: str | None = None,
    name: str | None = None,
    resource: str = "releases",
) -> KubeError:
    """The typed error for what the client raised while doing `verb` on `resource`."""
    # Imported here: the CLI loads this module at start-up, and the client only when it connects.
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    from greenlight.kube.client import KubeconfigProblem

    where: dict[str, Any] = {
        "verb": verb,
        "namespace": namespace,
        "name": name,
        "resource": resource,
    }
    if isinstance(error, KubeError):
        return error
    if isinstance(error, ApiException) and error.status:
        body = status_body(error.body)
        message = str(body.get("message") or error.reason or "").strip()
        kind = _BY_STATUS.get(error.status, ApiError)
        typed = kind(message, status=error.status, **where)
        details = body.get("details") or {}
        typed.no_such_resource = (
            "could not find the requested resource" in message and not details.get("name")
        )
        return typed
    if isinstance(error, ApiException):  # status 0: the client got no answer
        return Unreachable(str(error.reason or "no answer"), **where)
    if isinstance(error, urllib3.exceptions.HTTPError | OSError):
        return Unreachable(_reason_of(error), **where)
    if isinstance(error, ConfigException | KubeconfigProblem):
        return KubeconfigError(str(error), **where)
    return ApiError(f"unexpected {type(error).__name__}: {error}", **where)


@contextlib.contextmanager
def translated(
    *, verb: str, namespace: str | None = None, name: str | None = None, resource: str = "releases"
) -> Iterator[None]:
    """Raises what the client raises in the block as its `KubeError`; a bug stays a bug."""
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    try:
        yield
    except (ApiException, urllib3.exceptions.HTTPError, OSError, ConfigException) as error:
        raise translate(
            error, verb=verb, namespace=namespace, name=name, resource=resource
        ) from error


def status_body(body: Any) -> dict[str, Any]:
    """The API server's `Status` in an error's body, or {} when the body is not one."""
    try:
        parsed = json.loads(body or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _reason_of(error: BaseException) -> str:
    """The innermost cause of a connection failure, without urllib3's connection details."""
    reason: BaseException = error
    while isinstance(inner := getattr(reason, "reason", None), BaseException):
        reason = inner
    text = str(reason) or type(reason).__name__
    # "HTTPConnection(host=..., port=...): Failed to establish ...: [Errno 111] Connection refused"
    if "[Errno" in text:
        text = text.rsplit("] ", 1)[-1]
    return text


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
