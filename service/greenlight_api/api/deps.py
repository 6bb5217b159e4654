"""The dependencies routes declare with `Annotated`: the app's parts, the caller, the names.

The parts live on `app.state` (set by `main`); tests replace any of them with
`app.dependency_overrides[get_cache] = ...`. Names are validated here, once: a Release name
must be a DNS-1035 label (its Services are named after it), a namespace an RFC 1123 label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import HTTPBearer

from greenlight import models
from greenlight_api import auth, cache, records
from greenlight_api.api.errors import NotReady, ReleaseNotFound
from greenlight_api.api.streams import StreamSlots
from greenlight_api.core.config import NAMESPACE_PATTERN, Settings
from greenlight_api.core.lifecycle import Lifecycle
from greenlight_api.core.metrics import Metrics
from greenlight_api.kube.gateway import Cluster

# Declares the scheme in the OpenAPI document; the header itself is parsed by `auth`.
_bearer = HTTPBearer(auto_error=False, description="A Kubernetes bearer token.")


def _app_part(attribute: str) -> Callable[[Request], Any]:
    """The dependency that reads one of the app's parts from `app.state`."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, attribute)

    return get


get_settings: Callable[[Request], Settings] = _app_part("settings")
get_metrics: Callable[[Request], Metrics] = _app_part("metrics")
get_lifecycle: Callable[[Request], Lifecycle] = _app_part("lifecycle")
get_cache: Callable[[Request], cache.ReleaseCache] = _app_part("cache")
get_cluster: Callable[[Request], Cluster] = _app_part("cluster")
get_authenticator: Callable[[Request], auth.Authenticator] = _app_part("authenticator")
get_stream_slots: Callable[[Request], StreamSlots] = _app_part("stream_slots")

SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
LifecycleDep = Annotated[Lifecycle, Depends(get_lifecycle)]
AuthenticatorDep = Annotated[auth.Authenticator, Depends(get_authenticator)]
ClusterDep = Annotated[Cluster, Depends(get_cluster)]
StreamSlotsDep = Annotated[StreamSlots, Depends(get_stream_slots)]
UnsyncedCacheDep = Annotated[cache.ReleaseCache, Depends(get_cache)]


def get_synced_cache(release_cache: UnsyncedCacheDep) -> cache.ReleaseCache:
    if not release_cache.synced:
        raise NotReady("the release cache is still loading; retry in a moment")
    return release_cache


CacheDep = Annotated[cache.ReleaseCache, Depends(get_synced_cache)]

Namespace = Annotated[
    str,
    Path(
        min_length=1,
        max_length=63,
        pattern=NAMESPACE_PATTERN,
        description="A namespace (an RFC 1123 label).",
    ),
]
ReleaseName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=63,
        pattern=models.DNS_LABEL,
        description="A Release name (a DNS-1035 label).",
    ),
]
NamespaceFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=63,
        pattern=NAMESPACE_PATTERN,
        description="Only this namespace.",
    ),
]


async def get_caller(
    request: Request,
    authenticator: AuthenticatorDep,
    _: Annotated[object, Security(_bearer)] = None,
) -> auth.Caller:
    return await authenticator.authenticate(request.headers.get("authorization"))


CallerDep = Annotated[auth.Caller, Depends(get_caller)]


async def may_get(
    ns: Namespace, name: ReleaseName, caller: CallerDep, authenticator: AuthenticatorDep
) -> auth.Caller:
    """A dependency of the `{ns}/{name}` routes: the caller, once allowed to get the path's
    Release. The review names the Release, so RBAC rules limited to `resourceNames` apply."""
    await authenticator.require(caller, verb="get", namespace=ns, name=name)
    return caller


async def may_act(
    ns: Namespace, name: ReleaseName, caller: CallerDep, authenticator: AuthenticatorDep
) -> auth.Caller:
    """A dependency of the action routes: the caller, once allowed to act on the path's
    Release (`create releases/actions`, or `patch releases`; see `auth`)."""
    await authenticator.require_action(caller, namespace=ns, name=name)
    return caller


ReaderDep = Annotated[auth.Caller, Depends(may_get)]
ActorDep = Annotated[auth.Caller, Depends(may_act)]


def get_record(ns: Namespace, name: ReleaseName, release_cache: CacheDep) -> records.ReleaseRecord:
    record = release_cache.get(ns, name)
    if record is None:
        raise ReleaseNotFound(f"release {ns}/{name} not found")
    return record


RecordDep = Annotated[records.ReleaseRecord, Depends(get_record)]


async def get_listed(
    caller: CallerDep,
    authenticator: AuthenticatorDep,
    release_cache: CacheDep,
    namespace: NamespaceFilter = None,
) -> list[records.ReleaseRecord]:
    """The Releases the caller may list: of `?namespace=` once allowed there, else of every
    namespace where they may."""
    if namespace is not None:
        await authenticator.require(caller, verb="list", namespace=namespace)
        return release_cache.list([namespace])
    return release_cache.list(await authenticator.readable(caller, release_cache.namespaces()))


ListedDep = Annotated[list[records.ReleaseRecord], Depends(get_listed)]
