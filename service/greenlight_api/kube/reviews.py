"""TokenReview and SubjectAccessReview: the API server decides who a caller is and what they
may do, so this service never holds a user database or a policy of its own.

Blocking calls; run them off the event loop. Client exceptions leave as `KubeError`s of
`greenlight.kube.errors`.
"""

from __future__ import annotations

import dataclasses

import kubernetes.client

from greenlight import models
from greenlight.kube import errors


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserInfo:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()  # hashable, for caching


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenReviewResult:
    user: UserInfo | None  # None: the token was not accepted
    error: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccessReviewResult:
    allowed: bool
    reason: str = ""


class Reviewer:
    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        timeout: float,
        audiences: tuple[str, ...] = (),
    ) -> None:
        """`audiences`: a token is accepted only when the API server says it was issued for
        one of them; empty: for the API server's own audiences (any Kubernetes token)."""
        self._authn = kubernetes.client.AuthenticationV1Api(api_client)
        self._authz = kubernetes.client.AuthorizationV1Api(api_client)
        self._timeout = timeout
        self._audiences = audiences

    def review_token(self, token: str) -> TokenReviewResult:
        body = kubernetes.client.V1TokenReview(
            api_version="authentication.k8s.io/v1",
            kind="TokenReview",
            spec=kubernetes.client.V1TokenReviewSpec(
                token=token, audiences=list(self._audiences) or None
            ),
        )
        with errors.translated(verb="create", resource="tokenreviews"):
            result = self._authn.create_token_review(body, _request_timeout=self._timeout)
        status = result.status
        if status is None or not status.authenticated or status.user is None:
            return TokenReviewResult(user=None, error=(status.error if status else "") or "")
        # An API server that ignores `spec.audiences` would accept a token meant for anyone:
        # the answer must name one of ours.
        if self._audiences and not set(status.audiences or ()) & set(self._audiences):
            wanted = ", ".join(self._audiences)
            return TokenReviewResult(user=None, error=f"the token is not for audience {wanted}")
        user = status.user
        return TokenReviewResult(
            user=UserInfo(
                username=user.username or "",
                uid=user.uid or "",
                groups=tuple(user.groups or ()),
                extra=tuple(sorted((k, tuple(v)) for k, v in (user.extra or {}).items())),
            )
        )

    def review_access(
        self,
        user: UserInfo,
        *,
        verb: str,
        namespace: str,
        name: str | None = None,
        subresource: str = "",
    ) -> AccessReviewResult:
        """May `user` do `verb` on Releases (or their `subresource`) in `namespace` ("" for
        every namespace)?"""
        body = kubernetes.client.V1SubjectAccessReview(
            api_version="authorization.k8s.io/v1",
            kind="SubjectAccessReview",
            spec=kubernetes.client.V1SubjectAccessReviewSpec(
                user=user.username,
                uid=user.uid or None,
                groups=list(user.groups) or None,
                extra={k: list(v) for k, v in user.extra} or None,
                resource_attributes=kubernetes.client.V1ResourceAttributes(
                    group=models.GROUP,
                    version=models.VERSION,
                    resource=models.PLURAL,
                    verb=verb,
                    namespace=namespace,
                    name=name,
                    subresource=subresource or None,
                ),
            ),
        )
        with errors.translated(verb="create", resource="subjectaccessreviews"):
            result = self._authz.create_subject_access_review(body, _request_timeout=self._timeout)
        status = result.status
        if status is None:
            return AccessReviewResult(allowed=False, reason="no answer")
        return AccessReviewResult(
            allowed=bool(status.allowed) and not status.denied,
            reason=status.reason or status.evaluation_error or "",
        )
