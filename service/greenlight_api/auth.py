"""Who is calling, and may they do this? Answered by the API server, cached briefly.

- Authentication: `Authorization: Bearer <token>`, checked with a TokenReview. No header, a
  malformed one or a token the API server does not accept: 401.
- Authorization: a SubjectAccessReview on `releases.greenlight.dev` in the target namespace:
  `get` to read one Release, `list` to list them or follow them all, and for actions
  (promote, abort, rollback) `create` on the subresource `releases/actions`, a right of its
  own that an administrator grants on purpose. `patch` on `releases` is accepted for actions
  too: whoever holds it can write the action annotations (and much more) without this
  service, so honouring it gives nobody a right they lack. The reverse is the point:
  `releases/actions` lets a person press the buttons without `patch`, which edits the pod
  template, and hence is as good as creating Deployments with the operator's rights.
  Checks about one Release name it (`resourceAttributes.name`), so RBAC rules restricted to
  some Releases (`resourceNames: [web]`) are honoured; lists are never named.
  Not allowed: 403, naming the user, the verb, the namespace and the Release if any.
- Both answers are cached for `GREENLIGHT_API_AUTH_CACHE_SECONDS` (tokens by their hash),
  so a dashboard polling or a pipeline following a release costs the API server nothing.
- `GREENLIGHT_API_AUTH=none` lets everyone do everything: for local development only. The
  service says so in a warning when it starts.

A flood of made-up tokens must not cost a TokenReview each (nor the API server's time that a
real user's request then waits for): tokens never seen valid are reviewed at a bounded rate
(`GREENLIGHT_API_AUTH_NEW_TOKENS_PER_SECOND`, with a burst of ten times that), and beyond it
answered 429 without a review. A token once accepted is remembered (by its hash, for an
hour) and never waits for that budget, so users already in keep working during a flood.
Rejected tokens are cached like accepted ones, so repeating a bad token costs nothing more.

Reviews that fail (the API server is down) are `greenlight.kube.errors.KubeError`s, hence 503:
a caller is never told "forbidden" because the service could not ask.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterable

from greenlight_api.core.config import AuthMode
from greenlight_api.core.metrics import Metrics
from greenlight_api.kube.gateway import Cluster
from greenlight_api.kube.reviews import AccessReviewResult, TokenReviewResult, UserInfo
from greenlight_api.ttl_cache import TTLCache

logger = logging.getLogger(__name__)

KNOWN_TOKEN_SECONDS = 3600.0
KNOWN_TOKENS_MAX = 10_000

ANONYMOUS = UserInfo(username="system:anonymous (auth disabled)")

# The right to act (promote, abort, rollback): `create` on `releases/actions`. No such
# subresource is served; RBAC and SubjectAccessReview need none to exist, and an admin grants
# it only on purpose (no built-in role and no `releases` rule covers it).
ACTION_VERB = "create"
ACTION_SUBRESOURCE = "actions"
# Also accepted for actions: a caller who may patch the Release could write the annotations
# itself, so the service does nothing for them that they could not do.
ACTION_FALLBACK_VERB = "patch"


class Unauthenticated(Exception):
    """401: the caller did not prove who they are."""


class Forbidden(Exception):
    """403: the caller may not do this."""


class TooManyNewTokens(Exception):
    """429: too many unknown tokens to review right now."""


class TokenBudget:
    """A token bucket: `rate` per second, at most `burst` at once."""

    def __init__(
        self, *, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._level = burst
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._level = min(self.burst, self._level + (now - self._at) * self.rate)
        self._at = now
        if self._level < 1:
            return False
        self._level -= 1
        return True

    def give_back(self) -> None:
        self._level = min(self.burst, self._level + 1)


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
        new_tokens_per_second: float = 5.0,
    ) -> None:
        if mode is AuthMode.TOKENREVIEW and cluster is None:
            raise ValueError("tokenreview mode needs a cluster to ask")
        self.mode = mode
        self._cluster = cluster
        self._metrics = metrics
        self._tokens: TTLCache[TokenReviewResult] = TTLCache(seconds=cache_seconds)
        self._access: TTLCache[AccessReviewResult] = TTLCache(seconds=cache_seconds)
        self._new_tokens = TokenBudget(
            rate=new_tokens_per_second, burst=max(1.0, 10 * new_tokens_per_second)
        )
        # Hashes of tokens accepted in the last hour, oldest first: they skip the budget.
        self._known: collections.OrderedDict[str, float] = collections.OrderedDict()

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
        budgeted = (
            self._tokens.peek(key) is None
            and not self._tokens.computing(key)  # a burst with one new token: one review
            and not self._known_recently(key)
        )
        if budgeted and not self._new_tokens.take():
            raise TooManyNewTokens(
                "too many unknown bearer tokens to check right now; retry in a few seconds"
            )
        result, cached = await self._tokens.get(key, lambda: cluster.review_token(token))
        self._count("token", cached)
        if result.user is None:
            reason = f": {result.error}" if result.error else ""
            raise Unauthenticated(f"the bearer token was not accepted{reason}")
        if budgeted:
            self._new_tokens.give_back()  # only tokens that fail use the budget up
        self._remember(key)
        return Caller(user=result.user, checked=True)

    def _known_recently(self, key: str) -> bool:
        seen = self._known.get(key)
        return seen is not None and seen > time.monotonic() - KNOWN_TOKEN_SECONDS

    def _remember(self, key: str) -> None:
        self._known[key] = time.monotonic()
        self._known.move_to_end(key)
        while len(self._known) > KNOWN_TOKENS_MAX:
            self._known.popitem(last=False)

    async def review(
        self,
        caller: Caller,
        *,
        verb: str,
        namespace: str,
        name: str | None = None,
        subresource: str = "",
    ) -> AccessReviewResult:
        """May the caller `verb` Releases (or their `subresource`) in `namespace` ("" meaning
        every namespace)?

        With `name`, the question is about that one Release (RBAC `resourceNames` apply).
        """
        if not caller.checked:
            return AccessReviewResult(allowed=True, reason="auth disabled")
        if self._cluster is None:  # an explicit check: `python -O` drops asserts
            raise RuntimeError("token review is on but no cluster client was given")
        cluster = self._cluster
        user = caller.user
        result, cached = await self._access.get(
            (user, verb, namespace, name, subresource),
            lambda: cluster.review_access(
                user, verb=verb, namespace=namespace, name=name, subresource=subresource
            ),
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

    async def require_action(self, caller: Caller, *, namespace: str, name: str) -> None:
        """May the caller promote, abort or roll back the Release `name` in `namespace`?

        `create releases/actions` first; `patch releases` (a superset of the right) second.
        """
        granted = await self.review(
            caller,
            verb=ACTION_VERB,
            namespace=namespace,
            name=name,
            subresource=ACTION_SUBRESOURCE,
        )
        if granted.allowed:
            return
        patcher = await self.review(
            caller, verb=ACTION_FALLBACK_VERB, namespace=namespace, name=name
        )
        if patcher.allowed:
            return
        reason = f" ({granted.reason})" if granted.reason else ""
        raise Forbidden(
            f"user {caller.name!r} may not {ACTION_VERB} releases.greenlight.dev/"
            f"{ACTION_SUBRESOURCE} (the right to promote, abort and roll back) in namespace "
            f"{namespace}, Release {name}{reason}"
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
