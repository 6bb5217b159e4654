"""The async face of the Kubernetes layer: what routes and auth call, off the event loop.

`Cluster` is the protocol the routes depend on (tests replace it with a fake);
`KubeCluster` implements it with the blocking client, in a bounded pool of threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from typing import Protocol, TypeVar

import kubernetes.client

from greenlight.kube.releases import JsonObject, ReleaseClient
from greenlight_api.kube import reviews

T = TypeVar("T")


class Cluster(Protocol):
    async def get_release(self, namespace: str, name: str) -> JsonObject: ...

    async def patch_annotations(
        self, namespace: str, name: str, annotations: dict[str, str]
    ) -> JsonObject: ...

    async def review_token(self, token: str) -> reviews.TokenReviewResult: ...

    async def review_access(
        self,
        user: reviews.UserInfo,
        *,
        verb: str,
        namespace: str,
        name: str | None = None,
        subresource: str = "",
    ) -> reviews.AccessReviewResult: ...


class KubeCluster:
    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        timeout: float,
        threads: int,
        audiences: tuple[str, ...] = (),
    ) -> None:
        self.api_client = api_client
        self.releases = ReleaseClient(api_client, timeout=timeout)
        self.reviewer = reviews.Reviewer(api_client, timeout=timeout, audiences=audiences)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="kube"
        )

    async def _run(self, call: Callable[[], T]) -> T:
        # Carry the request's context (its request id, for logs) into the thread.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(context.run, call)
        )

    async def get_release(self, namespace: str, name: str) -> JsonObject:
        return await self._run(lambda: self.releases.get(namespace, name))

    async def patch_annotations(
        self, namespace: str, name: str, annotations: dict[str, str]
    ) -> JsonObject:
        return await self._run(lambda: self.releases.annotate(namespace, name, annotations))

    async def review_token(self, token: str) -> reviews.TokenReviewResult:
        return await self._run(lambda: self.reviewer.review_token(token))

    async def review_access(
        self,
        user: reviews.UserInfo,
        *,
        verb: str,
        namespace: str,
        name: str | None = None,
        subresource: str = "",
    ) -> reviews.AccessReviewResult:
        return await self._run(
            lambda: self.reviewer.review_access(
                user, verb=verb, namespace=namespace, name=name, subresource=subresource
            )
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.api_client.close()  # type: ignore[no-untyped-call]
