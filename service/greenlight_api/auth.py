"""Who is calling, and may they do this? Answered by the API server, cached briefly.

- Authentication: `Authorization: Bearer <token>`, checked with a TokenReview. No header, a
  malformed one or a token the API server does not accept: 401.
- Authorization: a SubjectAccessReview on `releases.greenlight.dev` in the target namespace:
  `get` to read one Release, `list` to list them or follow them all, `patch` for actions.
  Checks about one Release name it (`resourceAttributes.name`), so RBAC rules restricted to
  some Releases (`resourceNames: [web]`) are honoured; lists are never named.
  Not allowed: 403, naming the user, the verb, the namespace and the Release if any.
- Both answers are cached for `GREENLIGHT_API_AUTH_CACHE_SECONDS` (tokens by their hash),
  so a dashboard polling or a pipeline following a release costs the API server nothing.
- `GREENLIGHT_API_AUTH=none` lets everyone do everything: for local development only. The
  service says so in a warning when it starts.

Reviews that fail (the API server is down) are `kube.errors.Unavailable`, hence 503: a caller
is never told "forbidden" because the service could not ask.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections.abc import Iterable

from greenlight_api.core.config import AuthMode
from greenlight_api.core.metrics import Metrics
from greenlight_api.kube.gateway import Cluster
from greenlight_api.kube.reviews import AccessReviewResult, TokenReviewResult, UserInfo
from greenlight_api.ttl_cache import TTLCache

logger = logging.getLogger(__name__)

ANONYMOUS = UserInfo(username="system:anonymous (auth disabled)")


class Unauthenticated(Exception):
    """401: the caller did not prove who they are."""


class Forbidden(Exception):
    """403: the caller may not do this."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Caller:
    user: UserInfo
    checked: bool  # False in `none` mode: every check passes

    @property
    def name(self) -> str:
        return self.user.username


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("malformed Authorization header: expected 'Bearer <token>'")
    if len(token) > 16384 or not token.isascii() or not token.isprintable():
        raise Unauthenticated("malformed bearer token")
    return token


class Authenticator:
    def __init__(
        self,
        *,
        mode: AuthMode,
        cluster: Cluster | None,
        cache_seconds: float,
        metrics: Metrics | None = None,
    ) -> None:
        if mode is AuthMode.TOKENREVIEW and cluster is None:
            raise ValueError("tokenreview mode needs a cluster to ask")
        self.mode = mode
        self._cluster = cluster
        self._metrics = metrics
        self._tokens: TTLCache[TokenReviewResult] = TTLCache(seconds=cache_seconds)
        self._access: TTLCache[AccessReviewResult] = TTLCache(seconds=cache_seconds)

    def _count(self, kind: str, cached: bool) -> None:
        if self._metrics is not None:
            self._metrics.reviews.labels(kind, "true" if cached else "false").inc()

    async def authenticate(self, authorization: str | None) -> Caller:
        if self.mode is AuthMode.NONE:
            return Caller(user=ANONYMOUS, checked=False)
        if self._cluster is None:  # an explicit check: `python -O` drops asserts
            raise RuntimeError("token review is on but no cluster client was given")
        cluster = self._cluster
        token = bearer_token(authorization)
        key = hashlib.sha256(token.encode()).hexdigest()
        result, cached = await self._tokens.get(key, lambda: cluster.review_token(token))
        self._count("token", cached)
        if result.user is None:
            reason = f": {result.error}" if result.error else ""
            raise Unauthenticated(f"the bearer token was not accepted{reason}")
        return Caller(user=result.user, checked=True)

    async def review(
        self, caller: Caller, *, verb: str, namespace: str, name: str | None = None
    ) -> AccessReviewResult:
        """May the caller `verb` Releases in `namespace` ("" meaning every namespace)?

        With `name`, the question is about that one Release (RBAC `resourceNames` apply).
        """
        if not caller.checked:
            return AccessReviewResult(allowed=True, reason="auth disabled")
        if self._cluster is None:  # an explicit check: `python -O` drops asserts
            raise RuntimeError("token review is on but no cluster client was given")
        cluster = self._cluster
        user = caller.user
        result, cached = await self._access.get(
            (user, verb, namespace, name),
            lambda: cluster.review_access(user, verb=verb, namespace=namespace, name=name),
        )
        self._count("access", cached)
        return result

    async def require(
        self, caller: Caller, *, verb: str, namespace: str, name: str | None = None
    ) -> None:
        result = await self.review(caller, verb=verb, namespace=namespace, name=name)
        if not result.allowed:
            where = f"namespace {namespace}" if namespace else "all namespaces"
            if name is not None:
                where += f", Release {name}"
            reason = f" ({result.reason})" if result.reason else ""
            raise Forbidden(
                f"user {caller.name!r} may not {verb} releases.greenlight.dev in {where}{reason}"
            )

    async def readable(self, caller: Caller, namespaces: Iterable[str]) -> set[str] | None:
        """The namespaces among `namespaces` whose Releases the caller may list; None: all."""
        if (await self.review(caller, verb="list", namespace="")).allowed:
            return None
        candidates = sorted(set(namespaces))
        answers = await asyncio.gather(
            *(self.review(caller, verb="list", namespace=ns) for ns in candidates)
        )
        return {ns for ns, answer in zip(candidates, answers, strict=True) if answer.allowed}
