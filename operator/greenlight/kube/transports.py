"""The two ways an HTTP probe reaches a Service.

- `DirectTransport`: `http://<service>.<namespace>.svc.<cluster domain>:<port><path>`, for an
  operator running in the cluster. One `httpx.AsyncClient` serves every probe of every Release;
  it ignores proxy variables from the environment, which must not see in-cluster traffic.
- `ApiServerProxyTransport`: through the API server's service proxy, for an operator outside
  the cluster (and for tests). The client call blocks, so it runs on a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor

import httpx

from greenlight.kube import proxy
from greenlight.kube.client import ApiClient
from greenlight.settings import OperatorSettings, ProbeVia

SNIPPET_BYTES = 200


class DirectTransport:
    def __init__(
        self,
        *,
        cluster_domain: str = "cluster.local",
        hostname: Callable[[str, str], str] | None = None,
    ) -> None:
        """`hostname(namespace, service)` overrides Service DNS (tests point it at loopback)."""
        self._hostname = hostname or (
            lambda namespace, service: f"{service}.{namespace}.svc.{cluster_domain}"
        )
        self._client: httpx.AsyncClient | None = None

    def url(self, *, namespace: str, service: str, port: int, path: str) -> str:
        return f"http://{self._hostname(namespace, service)}:{port}{path}"

    async def get(
        self, *, namespace: str, service: str, port: int, path: str, timeout_seconds: float
    ) -> tuple[int, str]:
        if self._client is None:  # made on first use, inside the loop that will use it
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        url = self.url(namespace=namespace, service=service, port=port, path=path)
        try:
            async with self._client.stream("GET", url, timeout=timeout_seconds) as response:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= SNIPPET_BYTES:
                        break
                return response.status_code, body[:SNIPPET_BYTES].decode("utf-8", "replace")
        except httpx.TimeoutException as error:
            raise TimeoutError(f"timed out after {timeout_seconds:g}s") from error
        except httpx.ConnectError as error:
            if _refused(error):
                raise ConnectionRefusedError("connection refused") from error
            raise ConnectionError(f"connection failed: {error}") from error
        except httpx.TransportError as error:
            raise ConnectionError(f"connection failed: {type(error).__name__} {error}") from error

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class ApiServerProxyTransport:
    def __init__(self, api_client: ApiClient, *, executor: Executor | None = None) -> None:
        """`executor`: the threads blocking calls share (default: the loop's default one)."""
        self._api_client = api_client
        self._executor = executor

    async def get(
        self, *, namespace: str, service: str, port: int, path: str, timeout_seconds: float
    ) -> tuple[int, str]:
        call = functools.partial(
            proxy.get,
            self._api_client,
            namespace=namespace,
            service=service,
            port=port,
            path=path,
            timeout=timeout_seconds,
        )
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def aclose(self) -> None:
        """The API client belongs to the caller, who closes it."""


def _refused(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def transport_for(
    settings: OperatorSettings, api_client: ApiClient, *, executor: Executor | None = None
) -> DirectTransport | ApiServerProxyTransport:
    """How probes travel, as `GREENLIGHT_PROBE_VIA` says."""
    if settings.probe_via is ProbeVia.DIRECT:
        return DirectTransport(cluster_domain=settings.cluster_domain)
    return ApiServerProxyTransport(api_client, executor=executor)
