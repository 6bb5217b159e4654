"""How long, and for whom, an event stream stays open.

A stream outlives the request that opened it, so its authorization cannot be a one-off:

- `StreamAccess` authenticates the token again, and reviews again what the stream delivers,
  once the reviews' cache time (`GREENLIGHT_API_AUTH_CACHE_SECONDS`, at least a second) has
  passed. A token no longer accepted ends the stream (`end`, reason `unauthorized`); a
  namespace whose verdict turned to "no" is no longer delivered (a stream of one Release ends
  with `forbidden`); a review that cannot be made ends it with `unavailable`, and the client,
  reconnecting, is asked again.
- Every stream ends after `GREENLIGHT_API_SSE_MAX_STREAM_SECONDS` with reason `expired`, up to
  a tenth sooner so that clients opened together do not all come back at the same moment.
- `StreamSlots` caps the streams one user has open (`GREENLIGHT_API_SSE_MAX_STREAMS_PER_USER`):
  one more is a 429. A slot is given back when the response is over, however it ends.
"""

from __future__ import annotations

import collections
import random
import time
from collections.abc import Callable

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from greenlight.kube import errors as kube_errors
from greenlight_api import auth

MIN_RECHECK_SECONDS = 1.0


class Revoked(Exception):
    """The stream must end now; `reason` is the `end` event's."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooManyStreams(Exception):
    """429: the user has as many streams open as they may."""


def lifetime(max_seconds: float) -> float:
    """This stream's life: the maximum, less up to a tenth at random."""
    # Jitter only spreads reconnections apart in time; nothing secret is drawn from it.
    return max_seconds * (1 - random.uniform(0, 0.1))  # noqa: S311


class StreamAccess:
    """The caller of one stream, authenticated and reviewed again as the answers age."""

    def __init__(
        self,
        authenticator: auth.Authenticator,
        authorization: str | None,
        caller: auth.Caller,
        *,
        every: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.caller = caller
        self._authenticator = authenticator
        self._authorization = authorization
        self._every = max(every, MIN_RECHECK_SECONDS)
        self._clock = clock
        self._authenticated_at = clock()
        self._verdicts: dict[tuple[str, str | None], tuple[bool, float]] = {}

    def next_check_in(self) -> float:
        """Seconds until the token is due to be checked again."""
        return max(0.0, self._authenticated_at + self._every - self._clock())

    async def check_token(self) -> None:
        """Authenticate again when due; `Revoked` when the token is no longer accepted."""
        now = self._clock()
        if now < self._authenticated_at + self._every:
            return
        try:
            self.caller = await self._authenticator.authenticate(self._authorization)
        except auth.Unauthenticated:
            raise Revoked("unauthorized") from None
        except kube_errors.KubeError:
            raise Revoked("unavailable") from None
        self._authenticated_at = now

    async def may_list(self, namespace: str) -> bool:
        """May the caller list Releases in `namespace` (or everywhere)? Cached for `every`."""
        return await self._verdict(namespace, None)

    async def may_get(self, namespace: str, name: str) -> bool:
        """May the caller get the Release `name` in `namespace`? Cached for `every`."""
        return await self._verdict(namespace, name)

    async def _verdict(self, namespace: str, name: str | None) -> bool:
        key = (namespace, name)
        now = self._clock()
        found = self._verdicts.get(key)
        if found is not None and now < found[1] + self._every:
            return found[0]
        try:
            if name is None:
                allowed = False
                for scope in ("", namespace):
                    review = await self._authenticator.review(
                        self.caller, verb="list", namespace=scope
                    )
                    if review.allowed:
                        allowed = True
                        break
            else:
                review = await self._authenticator.review(
                    self.caller, verb="get", namespace=namespace, name=name
                )
                allowed = review.allowed
        except kube_errors.KubeError:
            raise Revoked("unavailable") from None
        self._verdicts[key] = (allowed, now)
        return allowed


class StreamSlots:
    """Open streams per user, at most `per_user` each."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: collections.Counter[str] = collections.Counter()

    def take(self, user: str) -> Callable[[], None]:
        """A slot for `user`, and the function that gives it back (once, however often called)."""
        if self._open[user] >= self.per_user:
            raise TooManyStreams(
                f"user {user!r} already has {self.per_user} event streams open here; "
                "close one, or retry later"
            )
        self._open[user] += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if given_back:
                return
            given_back = True
            self._open[user] -= 1
            if self._open[user] <= 0:
                del self._open[user]

        return give_back


class SlotResponse(StreamingResponse):
    """A streaming response that gives its slot back when it is over: also when the client
    left before the first byte, where the body's generator never even starts."""

    def __init__(self, *args: object, give_back: Callable[[], None], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._give_back = give_back

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._give_back()
