"""The one Release adapter: what the operator, the CLI and the service do to Releases.

`ReleaseClient` reads (get, list with the list's resourceVersion, the Release's Events), merges
annotations, and watches: `ReleaseWatch` is the one watch loop (LIST, then WATCH from the
list's resourceVersion; renewed from the last version seen when the server ends it; listed
again on 410 Gone; backed off on connection loss). The CLI follows one Release through it and
the service's cache keeps every Release through it.

The operator's writes (`write_status`, `set_annotation`, `remove_annotation`) go through
`Kube.request`, which carries the operator's retry policy; a Release deleted meanwhile is not
an error there, there is nothing left to write to.

Objects are the plain dicts the API server sent. Every client failure leaves as a typed
`greenlight.kube.errors.KubeError`; the CLI and the service word it each their own way.
Connecting as kubectl does is `greenlight.kube.client.resolve()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, Self

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.watch import watch as kube_watch

from greenlight import models
from greenlight.kube import client as kube_client
from greenlight.kube import errors
from greenlight.kube.common import JSON_PATCH, MERGE_PATCH, Kube, quote
from greenlight.kube.target import ReleaseTarget
from greenlight.naming import name_of, namespace_of

# A watch is ended by the server after this long and quietly re-established from where it was.
WATCH_SECONDS = 300
CONNECT_TIMEOUT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 30.0
# Connection losses in a row that a bounded watch (the CLI's) survives before giving up.
WATCH_RECONNECTS = 5
MAX_PAUSE_SECONDS = 30.0

JsonObject = dict[str, Any]
JsonObjects = list[JsonObject]  # spelled so inside ReleaseClient, whose `list` hides the type
Timeout = float | tuple[float, float]
_Watch: Any = kube_watch.Watch  # untyped


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    """LISTED (a complete listing in `items`), or ADDED, MODIFIED, DELETED of `object`."""

    type: str
    object: JsonObject = dataclasses.field(default_factory=dict)
    items: list[JsonObject] = dataclasses.field(default_factory=list)


class ReleaseClient:
    """The Release calls of one cluster connection; a context manager."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        default_namespace: str = "default",
        timeout: Timeout = (CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS),
    ) -> None:
        self._api_client: Any = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self.default_namespace = default_namespace
        self.server = str(api_client.configuration.host)
        self.timeout = timeout

    @classmethod
    def connect(cls, *, kubeconfig: str | None = None, context: str | None = None) -> Self:
        """Connect as kubectl would; no request is made yet."""
        try:
            connection = kube_client.resolve(
                kubeconfig=kubeconfig, context=context, kubeconfig_first=True
            )
        except kube_client.KubeconfigProblem as problem:
            raise errors.KubeconfigError(str(problem)) from None
        configuration = connection.configuration
        # One attempt per request: a person waits for the answer, and a watch reconnects itself.
        configuration.retries = 0
        return cls(
            client.ApiClient(configuration), default_namespace=connection.namespace or "default"
        )

    def close(self) -> None:
        self._api_client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, namespace: str, name: str) -> JsonObject:
        with errors.translated(verb="get", namespace=namespace, name=name):
            release = self._custom.get_namespaced_custom_object(
                models.GROUP,
                models.VERSION,
                namespace,
                models.PLURAL,
                name,
                _request_timeout=self.timeout,
            )
        return _as_object(release)

    def list(self, namespace: str | None) -> tuple[JsonObjects, str]:
        """Every Release of `namespace` (of all when None), sorted, and the list's version."""
        with errors.translated(verb="list", namespace=namespace):
            answer = _as_object(self._list_call(namespace)(_request_timeout=self.timeout))
        items = [_as_object(item) for item in answer.get("items") or []]
        items.sort(key=lambda item: (namespace_of(item), name_of(item)))
        return items, str((answer.get("metadata") or {}).get("resourceVersion") or "")

    def annotate(self, namespace: str, name: str, annotations: Mapping[str, str]) -> JsonObject:
        """Merge `annotations` onto the Release (a JSON merge patch) and return the result."""
        body = {"metadata": {"annotations": dict(annotations)}}
        with errors.translated(verb="patch", namespace=namespace, name=name):
            release = self._custom.patch_namespaced_custom_object(
                models.GROUP,
                models.VERSION,
                namespace,
                models.PLURAL,
                name,
                body,
                _content_type=MERGE_PATCH,
                _request_timeout=self.timeout,
            )
        return _as_object(release)

    def events(self, namespace: str, name: str) -> JsonObjects:
        """The core/v1 Events of the Release, oldest first."""
        selector = f"involvedObject.name={name},involvedObject.kind={models.KIND}"
        with errors.translated(verb="list", namespace=namespace, resource="events"):
            response: Any = self._core.list_namespaced_event(
                namespace,
                field_selector=selector,
                _preload_content=False,  # plain dicts, not the client's models
                _request_timeout=self.timeout,
            )
            try:
                answer = json.loads(response.data or b"{}")
            finally:
                response.release_conn()
        events = [
            event
            for event in _as_object(answer).get("items") or []
            if (event.get("involvedObject") or {}).get("name") == name
            and (event.get("involvedObject") or {}).get("kind", models.KIND) == models.KIND
        ]
        return sorted(events, key=_event_time)

    def follow(
        self, namespace: str, name: str, *, deadline: float | None
    ) -> Generator[JsonObject, None, None]:
        """The Release now, then again each time it changes, until `deadline` (monotonic).

        Ends quietly when the deadline passes; raises `NotFound` (verb "follow") if it is
        deleted, `Unreachable` (verb "watch") after `WATCH_RECONNECTS` connection losses.
        """
        last: JsonObject | None = None
        watch = ReleaseWatch(
            self, namespace, name=name, deadline=deadline, reconnects=WATCH_RECONNECTS
        )
        with contextlib.closing(iter(watch)) as events:
            for event in events:
                if event.type == "DELETED":
                    raise errors.NotFound(
                        f'release "{name}" was deleted from namespace "{namespace}"',
                        status=404,
                        verb="follow",
                        namespace=namespace,
                        name=name,
                    )
                current = event.items[0] if event.type == "LISTED" else event.object
                if current != last:
                    last = current
                    yield current

    def _list_call(self, namespace: str | None) -> Callable[..., Any]:
        if namespace is None:
            return lambda **kw: self._custom.list_cluster_custom_object(
                models.GROUP, models.VERSION, models.PLURAL, **kw
            )
        return lambda **kw: self._custom.list_namespaced_custom_object(
            models.GROUP, models.VERSION, namespace, models.PLURAL, **kw
        )

    @property
    def connect_timeout(self) -> float:
        return self.timeout[0] if isinstance(self.timeout, tuple) else self.timeout

    def watch_once(
        self,
        namespace: str | None,
        *,
        name: str | None,
        version: str,
        window: int,
        read_timeout: float,
    ) -> WatchRequest:
        """One WATCH from `version` (every change of the scope, or of Release `name`), which
        the server ends after `window` seconds. `ReleaseWatch` renews it."""
        kwargs: dict[str, Any] = {
            "allow_watch_bookmarks": True,
            "timeout_seconds": window,
            "_request_timeout": (self.connect_timeout, read_timeout),
        }
        if version:
            kwargs["resource_version"] = version
        if name is not None:
            kwargs["field_selector"] = f"metadata.name={name}"
        where = {"namespace": namespace, "name": name}
        return WatchRequest(self._list_call(namespace), where, **kwargs)


class ReleaseWatch:
    """The one watch loop: iterate for `WatchEvent`s; `close()` from any thread ends it.

    First a listing (LISTED), then the changes. A watch the server ends is renewed from the
    last version seen (bookmarks included); 410 Gone lists again (LISTED once more). Failures
    are retried after a pause doubling from 0.5 s up to 30 s:

    - `reconnects=None` (a long-running cache): every failure, forever;
    - `reconnects=N` (a person waiting): only connection losses after the first listing, N in
      a row at most; anything else is raised at once.

    With a `deadline` (monotonic) the loop ends quietly when it passes. `on_restart(reason)`
    is told of each new watch: "renewed", "expired" or "error".
    """

    def __init__(
        self,
        releases: ReleaseClient,
        namespace: str | None,
        *,
        name: str | None = None,
        deadline: float | None = None,
        reconnects: int | None = None,
        window: int | None = None,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        if name is not None and namespace is None:
            raise ValueError("a Release is watched by name within its namespace")
        self._releases = releases
        self._namespace = namespace
        self._name = name
        self._deadline = deadline
        self._reconnects = reconnects
        self._window = window
        self._on_restart = on_restart or (lambda reason: None)
        self._closed = threading.Event()
        self._current: WatchRequest | None = None  # the WATCH request under way

    def close(self) -> None:
        self._closed.set()
        current = self._current
        if current is not None:
            current.close()  # shuts the socket down: a read blocked in another thread ends

    def _over(self) -> bool:
        return self._closed.is_set() or (
            self._deadline is not None and time.monotonic() >= self._deadline
        )

    def __iter__(self) -> Generator[WatchEvent, None, None]:
        version: str | None = None  # None: list (again) first
        listed = False
        losses = 0
        while not self._over():
            try:
                if version is None:
                    items, version = self._listing()
                    listed = True
                    yield WatchEvent("LISTED", items=items)
                for kind, obj in self._stream(version):
                    losses = 0
                    version = _resource_version(obj) or version
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        yield WatchEvent(kind, obj)
                    if self._over():
                        return
                self._on_restart("renewed")
            except errors.Expired:
                version = None
                self._on_restart("expired")
            except errors.KubeError as error:
                if self._over():
                    return  # closed, or the read timed out at the deadline
                bounded = self._reconnects is not None
                if bounded and not (listed and isinstance(error, errors.Unreachable)):
                    raise
                losses += 1
                if self._reconnects is not None and losses > self._reconnects:
                    raise
                self._on_restart("error")
                self._pause(min(0.5 * 2 ** (losses - 1), MAX_PAUSE_SECONDS))

    def _listing(self) -> tuple[list[JsonObject], str]:
        """What a watch starts from: the whole scope (a LIST), or the one Release (a GET)."""
        if self._name is None or self._namespace is None:
            return self._releases.list(self._namespace)
        release = self._releases.get(self._namespace, self._name)
        return [release], _resource_version(release) or ""

    def _pause(self, seconds: float) -> None:
        if self._deadline is not None:
            seconds = min(seconds, max(0.0, self._deadline - time.monotonic()))
        self._closed.wait(seconds)

    def _stream(self, version: str) -> Iterator[tuple[str, JsonObject]]:
        """One WATCH request's (type, object) pairs, until the server ends it."""
        window = self._window or WATCH_SECONDS
        read_timeout = float(window) + self._releases.connect_timeout
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            window = max(1, min(window, int(left) + 1))
            read_timeout = max(0.05, left)
        request = self._releases.watch_once(
            self._namespace,
            name=self._name,
            version=version,
            window=window,
            read_timeout=read_timeout,
        )
        self._current = request
        try:
            if not self._closed.is_set():
                yield from request
        finally:
            self._current = None
            request.close()


class WatchRequest:
    """One WATCH request through the client's `Watch`: iterate for (type, object) pairs;
    `close()` from any thread shuts its socket down."""

    def __init__(self, call: Callable[..., Any], where: dict[str, Any], **kwargs: Any) -> None:
        self._watch = _Watch(return_type="object")
        self._call = call
        self._where = where
        self._kwargs = kwargs

    def __iter__(self) -> Iterator[tuple[str, JsonObject]]:
        name = self._where.get("name")
        with errors.translated(verb="watch", **self._where):
            # With `timeout_seconds` this is one request: renewing it is ReleaseWatch's business.
            for event in self._watch.stream(self._call, **self._kwargs):
                if not isinstance(event, dict):  # a blank line
                    continue
                obj = _as_object(event.get("raw_object"))
                if name is None or name_of(obj) == name:
                    yield str(event.get("type")), obj

    def close(self) -> None:
        self._watch.stop()


# ---------------------------------------------------------------------------------------------
# The operator's writes, through `Kube.request` and its retry policy
# ---------------------------------------------------------------------------------------------


def object_path(namespace: str, name: str) -> str:
    return (
        f"/apis/{models.GROUP}/{models.VERSION}/namespaces/{quote(namespace)}"
        f"/{models.PLURAL}/{quote(name)}"
    )


def write_status(kube: Kube, target: ReleaseTarget, status: Mapping[str, Any]) -> bool:
    """Merge-patch `status` into the Release's status; False when the Release is gone.

    Status is the operator's alone (Kopf never writes handler results there); it is written
    whole, so every field the decision computed lands together.
    """
    path = object_path(target.namespace, target.name) + "/status"
    return _patch(kube, path, {"status": dict(status)})


def remove_annotation(
    kube: Kube, target: ReleaseTarget, key: str, *, value: str | None = None
) -> bool:
    """Remove one annotation (absent already is fine); False when the Release is gone.

    With `value`, only while the annotation still has it: a JSON patch that tests it first,
    so a newer value set meanwhile is kept (a failed test is not an error).
    """
    path = object_path(target.namespace, target.name)
    if value is None:
        return _patch(kube, path, {"metadata": {"annotations": {key: None}}})
    pointer = "/metadata/annotations/" + key.replace("~", "~0").replace("/", "~1")
    operations = [
        {"op": "test", "path": pointer, "value": value},
        {"op": "remove", "path": pointer},
    ]
    try:
        kube.request("PATCH", path, body=operations, content_type=JSON_PATCH)
    except ApiException as error:
        if error.status == 404:
            return False
        if error.status == 422:  # the test failed: another value now, kept for its own tick
            return True
        raise
    return True


def set_annotation(kube: Kube, namespace: str, name: str, key: str, value: str) -> bool:
    """Set one annotation on the Release; False when it is gone."""
    patch = {"metadata": {"annotations": {key: value}}}
    return _patch(kube, object_path(namespace, name), patch)


def _patch(kube: Kube, path: str, body: Mapping[str, Any]) -> bool:
    try:
        kube.request("PATCH", path, body=body, content_type=MERGE_PATCH, retry_conflicts=True)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def _as_object(value: Any) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _resource_version(obj: Mapping[str, Any]) -> str | None:
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return str(version) if version else None


def _event_time(event: Mapping[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
