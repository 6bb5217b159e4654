"""The HTTP face of the emulated API server: a ``kmock.KubernetesEmulator`` subclass.

kmock parses and records each request and hands it to :meth:`GreenlightEmulator._handle`,
which this module replaces: it authenticates, applies injected faults, then routes the
request to discovery, the service proxy, the review endpoints, pod logs (read through a
source the kubelet sets), or the object store (get, list, watch, create, replace, patch,
delete, deletecollection, ``status`` and ``scale`` subresources). The kmock DSL reactions
and kmock's own object logic are not used; kmock's ``objects`` array still holds every
stored version of every object.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import time
import traceback
from collections.abc import Callable
from typing import Any

import aiohttp.web
import kmock

from greenlight_sandbox.addresses import AddressPool
from greenlight_sandbox.emulator import discovery, proxy, tables
from greenlight_sandbox.emulator.auth import Authorizer, UserInfo
from greenlight_sandbox.emulator.clusterips import ClusterIPAllocator
from greenlight_sandbox.emulator.errors import ApiError, status_body
from greenlight_sandbox.emulator.faults import Faults
from greenlight_sandbox.emulator.patching import apply_patch
from greenlight_sandbox.emulator.resources import (
    REVIEW_PLURALS,
    Registry,
    ResourceType,
    types_from_crd,
)
from greenlight_sandbox.emulator.selectors import (
    Selection,
    parse_field_selector,
    parse_label_selector,
)
from greenlight_sandbox.emulator.store import Obj, Store
from greenlight_sandbox.emulator.watch import WatchHub, WatchRequest, serve_watch

logger = logging.getLogger(__name__)

PodLogSource = Callable[[str, str, str], "str | None"]
# Requests carrying this header come from the test harness (the cluster facade and the fake
# controllers): they are neither recorded, nor authenticated, nor subject to injected faults.
HARNESS_HEADER = "X-Emulator-Harness"
_KMOCK_REQUESTS_KEPT = 200


@dataclasses.dataclass
class RecordedRequest:
    """One request as the system under test made it."""

    method: str
    path: str
    query: dict[str, str]
    status: int  # 0 until answered; a watch is recorded as answered when its stream starts
    time: float  # time.monotonic() at arrival
    answered: float = 0.0  # time.monotonic() when the answer was ready; 0.0 until then


@dataclasses.dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    namespace: str | None
    plural: str
    name: str | None
    subresource: str | None


_PATH_RE = re.compile(
    r"^/(?:api/(?P<core>[^/]+)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))/(?P<rest>.+)$"
)


def parse_resource_path(path: str) -> ResourcePath | None:
    match = _PATH_RE.match(path.rstrip("/"))
    if match is None:
        return None
    group = match["group"] or ""
    version = match["core"] or match["version"]
    rest = match["rest"].split("/")
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return ResourcePath(group, version, namespace, plural, name, subresource)


def json_response(body: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json"
    )


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


class GreenlightEmulator(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator with the gaps of kmock 0.8 closed (see the package doc)."""

    def __init__(
        self,
        *,
        require_auth: bool = False,
        graceful_pod_deletion: bool = False,
        service_addresses: AddressPool | None = None,
    ) -> None:
        super().__init__()
        self.registry = Registry()
        self.hub = WatchHub()
        self.store = Store(self.objects, self.hub, graceful_pod_deletion=graceful_pod_deletion)
        self.store.on_change.append(self._after_change)
        if service_addresses is not None:
            allocator = ClusterIPAllocator(service_addresses)
            self.store.admit_create.append(allocator.on_create)
            self.store.admit_update.append(allocator.on_update)
            self.store.on_change.append(allocator.on_change)
        self.authorizer = Authorizer(require_auth=require_auth)
        self.faults = Faults()
        self.proxy_handler: proxy.ProxyHandler | None = None
        # Reads a container's log for `kubectl logs`: (namespace, pod, container) -> text or
        # None; set by whoever runs the pods (the sandbox's kubelet). Called in a worker thread.
        self.pod_logs: PodLogSource | None = None
        self.recorded: list[RecordedRequest] = []
        self.server_errors: list[str] = []
        namespaces = self.registry.get("", "v1", "namespaces")
        assert namespaces is not None
        self.store.create(namespaces, None, {"metadata": {"name": "default"}})

    # --- entry point -----------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """Record the request kmock-style and handle it.

        kmock's own request parsing is bypassed: in 0.8 it fails on some valid paths
        (e.g. ``/api/v1/namespaces``), and the routing here parses paths itself.
        """
        body = await raw_request.read()
        request = kmock.Request(
            id=len(self._requests),
            raw_request=raw_request,
            url=raw_request.url,
            method=raw_request.method,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            body=body,
            text=body.decode(errors="replace"),
        )
        self._requests.append(request)
        return await self._handle(request)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        del self._requests[:-_KMOCK_REQUESTS_KEPT]  # kmock keeps every request; we keep ours
        raw = request._raw_request
        assert raw is not None
        harness = raw.headers.get(HARNESS_HEADER) == "1"
        record: RecordedRequest | None = None
        if not harness:
            record = RecordedRequest(raw.method, raw.path, dict(raw.query), 0, time.monotonic())
            self.recorded.append(record)
        response: aiohttp.web.StreamResponse
        try:
            response = await self._dispatch(request, raw, harness, record)
        except ApiError as exc:
            response = json_response(exc.status_body(), exc.code)
            if exc.retry_after is not None:
                response.headers["Retry-After"] = str(exc.retry_after)
        except Exception as exc:
            self.server_errors.append(traceback.format_exc())
            logger.exception("The emulated API server failed on %s %s", raw.method, raw.path)
            response = json_response(status_body(500, repr(exc)), 500)
        if record is not None and record.status == 0:
            record.status = response.status
            record.answered = time.monotonic()
        return response

    def _table(self, rtype: ResourceType, items: list[Obj], list_meta: Obj) -> Obj:
        crd = None
        if rtype.crd_name is not None:
            crds = self.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            if crds is not None:
                with contextlib.suppress(ApiError):
                    crd = self.store.get(crds, None, rtype.crd_name)
        return tables.table(rtype.kind, rtype.version, items, list_meta, crd)

    async def _dispatch(
        self,
        request: kmock.Request,
        raw: aiohttp.web.BaseRequest,
        harness: bool,
        record: RecordedRequest | None,
    ) -> aiohttp.web.StreamResponse:
        method, path = raw.method.upper(), raw.path
        user: UserInfo | None = None
        if not harness:
            user = self.authorizer.identify(raw.headers.get("Authorization"))
            if user is None and self.authorizer.require_auth:
                raise ApiError(401, "Unauthorized")
            fault = self.faults.take(method, path)
            if fault is not None:
                if fault.delay > 0:
                    await self._sleep(fault.delay)
                if fault.status is not None:
                    error = ApiError(fault.status, f"injected failure of {method} {path}")
                    error.retry_after = fault.retry_after
                    raise error

        if method == "GET":
            document = discovery.serve(self.registry, path)
            if isinstance(document, str):
                return aiohttp.web.Response(text=document)
            if document is not None:
                return json_response(document)

        target = proxy.parse(path, raw.query_string)
        if target is not None:
            answer = await proxy.answer(self.proxy_handler, target)
            if answer is None:
                raise ApiError(503, proxy.no_endpoints_message(target))
            return aiohttp.web.Response(text=answer[1], status=answer[0])

        where = parse_resource_path(path)
        rtype = (
            None if where is None else self.registry.get(where.group, where.version, where.plural)
        )
        if where is None or rtype is None:
            raise ApiError(404, "the server could not find the requested resource")
        if where.namespace is not None and not rtype.namespaced:
            raise ApiError(404, "the server could not find the requested resource")
        body = self._body(request) if method in ("POST", "PUT", "PATCH", "DELETE") else None

        if rtype.plural in REVIEW_PLURALS:
            return self._review(rtype, method, where, body, user)
        if rtype.group == "" and rtype.plural == "pods" and where.subresource == "log":
            return await self._pod_log(rtype, method, where, raw)
        if where.subresource not in (None, *rtype.subresources) or where.subresource == "proxy":
            raise ApiError(404, "the server could not find the requested resource")
        if where.subresource == "scale":
            return json_response(self._scale(rtype, method, where, raw, body))

        store, ns, name, sub = self.store, where.namespace, where.name, where.subresource
        if method == "GET" and _truthy(raw.query.get("watch")):
            return await self._watch(rtype, where, raw, record)
        if method == "GET" and name is not None:
            if tables.wants_table(raw.headers.get("Accept", "")):
                return json_response(self._table(rtype, [store.get(rtype, ns, name)], {}))
            return json_response(store.get(rtype, ns, name))
        if method == "GET":
            items, rv = store.list_objects(rtype, self._selection(rtype, ns, raw))
            if tables.wants_table(raw.headers.get("Accept", "")):
                return json_response(self._table(rtype, items, {"resourceVersion": rv}))
            listing = {
                "kind": f"{rtype.kind}List",
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": rv},
                "items": items,
            }
            return json_response(listing)
        if method == "POST" and name is None:
            return json_response(store.create(rtype, ns, body), 201)
        if method == "PUT" and name is not None:
            return json_response(store.replace(rtype, ns, name, body, sub))
        if method == "PATCH" and name is not None:
            content_type = raw.headers.get("Content-Type", "application/merge-patch+json")
            return json_response(store.patch(rtype, ns, name, content_type, body, sub))
        if method == "DELETE" and name is not None:
            return json_response(self._delete(rtype, ns, name, body, raw))
        if method == "DELETE":
            return json_response(self._delete_collection(rtype, ns, raw))
        raise ApiError(405, "the server does not allow this method on the requested resource")

    # --- helpers ---------------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the emulator stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.hub.stopping.wait(), timeout=seconds)

    @staticmethod
    def _body(request: kmock.Request) -> Any:
        if not request.body:
            return None
        try:
            return json.loads(request.body)
        except ValueError as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None

    @staticmethod
    def _selection(
        rtype: ResourceType, namespace: str | None, raw: aiohttp.web.BaseRequest
    ) -> Selection:
        return Selection(
            namespace=namespace if rtype.namespaced else None,
            labels=parse_label_selector(raw.query.get("labelSelector")),
            fields=parse_field_selector(raw.query.get("fieldSelector")),
        )

    async def _watch(
        self,
        rtype: ResourceType,
        where: ResourcePath,
        raw: aiohttp.web.BaseRequest,
        record: RecordedRequest | None,
    ) -> aiohttp.web.StreamResponse:
        selection = self._selection(rtype, where.namespace, raw)
        if where.name is not None:  # a watch of one named object (deprecated, but served)
            by_name = parse_field_selector(f"metadata.name={where.name}")
            selection = dataclasses.replace(selection, fields=selection.fields + by_name)
        since_text = raw.query.get("resourceVersion") or ""
        if since_text not in ("", "0") and not since_text.isdigit():
            raise ApiError(400, f"invalid resourceVersion: {since_text!r}")
        timeout_text = raw.query.get("timeoutSeconds")
        try:
            timeout = float(timeout_text) if timeout_text else None
        except ValueError:
            raise ApiError(400, f"invalid timeoutSeconds: {timeout_text!r}") from None
        watch = WatchRequest(
            key=rtype.storage_key,
            api_version=rtype.api_version,
            kind=rtype.kind,
            selection=selection,
            since=int(since_text) if since_text not in ("", "0") else None,
            timeout=timeout,
            initial_events_bookmark=_truthy(raw.query.get("sendInitialEvents")),
            snapshot=lambda: self.store.list_objects(rtype, selection),
        )
        if record is not None:
            record.status = 200
            record.answered = time.monotonic()
        return await serve_watch(raw, self.hub, watch)

    async def _pod_log(
        self, rtype: ResourceType, method: str, where: ResourcePath, raw: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        """``GET .../pods/{name}/log[?container=&tailLines=]``: the container's output so far."""
        if method != "GET" or where.name is None:
            raise ApiError(405, "the log of a pod can only be read")
        pod = self.store.get(rtype, where.namespace, where.name)
        names = [
            str(container.get("name"))
            for container in (pod.get("spec") or {}).get("containers") or []
            if isinstance(container, dict)
        ]
        container = raw.query.get("container") or (names[0] if len(names) == 1 else None)
        if container is None:
            raise ApiError(
                400,
                f"a container name must be specified for pod {where.name}, choose one of: "
                f"[{' '.join(names)}]",
            )
        if container not in names:
            raise ApiError(400, f"container {container} is not valid for pod {where.name}")
        source = self.pod_logs
        text = None
        if source is not None:
            text = await asyncio.to_thread(source, str(where.namespace), where.name, container)
        if text is None:
            raise ApiError(
                400, f'container "{container}" in pod "{where.name}" is waiting to start'
            )
        tail = raw.query.get("tailLines")
        if tail is not None and tail.isdigit():
            lines = text.splitlines(keepends=True)
            text = "".join(lines[len(lines) - int(tail) :]) if int(tail) else ""
        return aiohttp.web.Response(text=text)

    def _delete(
        self,
        rtype: ResourceType,
        ns: str | None,
        name: str,
        body: Any,
        raw: aiohttp.web.BaseRequest,
    ) -> Obj:
        options = body if isinstance(body, dict) else {}
        grace = _grace_period_option(options, raw)
        result = self.store.delete(rtype, ns, name, options.get("preconditions"), grace)
        if self.store.find(rtype, ns, name) is not None:
            return result  # still there, waiting for its finalizers
        details = {"name": name, "group": rtype.group, "kind": rtype.plural}
        details["uid"] = result["metadata"]["uid"]
        return status_body(200, "", reason="", details=details)

    def _delete_collection(
        self, rtype: ResourceType, namespace: str | None, raw: aiohttp.web.BaseRequest
    ) -> Obj:
        deleted: list[Obj] = []
        grace = _grace_period_option({}, raw)
        for item in self.store.list_objects(rtype, self._selection(rtype, namespace, raw))[0]:
            meta = item["metadata"]
            if self.store.find(rtype, meta.get("namespace"), meta["name"]) is not None:
                deleted.append(
                    self.store.delete(rtype, meta.get("namespace"), meta["name"], None, grace)
                )
        listing = {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version}
        return {**listing, "metadata": {}, "items": deleted}

    def _scale(
        self,
        rtype: ResourceType,
        method: str,
        where: ResourcePath,
        raw: aiohttp.web.BaseRequest,
        body: Any,
    ) -> Obj:
        assert where.name is not None
        obj = self.store.get(rtype, where.namespace, where.name)
        if method in ("PUT", "PATCH"):
            current = _scale_of(obj)
            if method == "PATCH":
                content_type = raw.headers.get("Content-Type", "application/merge-patch+json")
                body = apply_patch(content_type, current, body, builtin=True)
            replicas = ((body or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "spec.replicas must be a non-negative integer")
            obj = self.store.patch(
                rtype,
                where.namespace,
                where.name,
                "application/merge-patch+json",
                {"spec": {"replicas": replicas}},
            )
        elif method != "GET":
            raise ApiError(405, "the scale subresource supports get, update and patch")
        return _scale_of(obj)

    def _review(
        self,
        rtype: ResourceType,
        method: str,
        where: ResourcePath,
        body: Any,
        user: UserInfo | None,
    ) -> aiohttp.web.StreamResponse:
        if method != "POST" or where.name is not None:
            raise ApiError(405, f"{rtype.plural} can only be created")
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        if rtype.plural == "tokenreviews":
            return json_response(self.authorizer.token_review(body), 201)
        namespace = where.namespace if rtype.plural == "localsubjectaccessreviews" else None
        review = self.authorizer.access_review(
            body, kind=rtype.kind, requester=user, namespace=namespace
        )
        return json_response(review, 201)

    def _after_change(self, rtype: ResourceType, old: Obj | None, new: Obj | None) -> None:
        """Cross-object effects: CRDs (un)register resources; namespaces take their objects."""
        if rtype.plural == "customresourcedefinitions" and rtype.group == "apiextensions.k8s.io":
            crd_name = str((new or old or {}).get("metadata", {}).get("name", ""))
            removed = self.registry.remove_crd(crd_name)
            if new is not None:
                for served in types_from_crd(new):
                    self.registry.add(served)
            else:
                for gone in {t.storage_key: t for t in removed}.values():
                    self.store.drop_resource(gone)
        elif rtype.plural == "namespaces" and rtype.group == "" and new is None and old:
            self.store.delete_namespace_contents(str(old["metadata"]["name"]))

    async def stop_streams(self) -> None:
        """End every watch stream and pending delay (before the server shuts down)."""
        self.hub.stopping.set()
        await asyncio.sleep(0)


def _grace_period_option(options: dict[str, Any], raw: aiohttp.web.BaseRequest) -> int | None:
    """``gracePeriodSeconds`` of a DELETE: from its DeleteOptions body, else from its query."""
    value = options.get("gracePeriodSeconds")
    if value is None:
        value = raw.query.get("gracePeriodSeconds")
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"invalid gracePeriodSeconds: {value!r}") from None


def _scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    selector = (obj.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        },
    }
