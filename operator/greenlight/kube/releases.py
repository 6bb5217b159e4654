"""Reading, following and annotating Releases for people: what the `greenlight` CLI needs.

This module connects with the user's kubeconfig as kubectl does (`--kubeconfig`, `$KUBECONFIG`
read when connecting, `~/.kube/config`, then the in-cluster service account) and turns every
failure of the client into a `KubeError` whose message is one sentence for a human: what is
wrong and what to do. Callers never see a client exception, a urllib3 exception or a traceback.

Objects are returned as the plain dicts the API server sent; reading status through the models
is the caller's business. `follow()` is a watch, not a poll: one GET for the starting state and
its `resourceVersion`, then a watch on that one object, re-established when the server ends it
and re-listed when the server says the version is too old (410 Gone).

It must not decide anything about releases (that is `greenlight.user_actions`) and must not
print.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Generator, Iterator, Mapping
from typing import Any, Self

import urllib3
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from kubernetes.watch import watch as kube_watch

from greenlight import models
from greenlight.kube import client as kube_client

# A watch is ended by the server after this long and quietly re-established from where it was.
WATCH_SECONDS = 300
CONNECT_TIMEOUT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 30.0
# Connection losses in a row that a watch survives (with a growing pause) before giving up.
WATCH_RECONNECTS = 5

JsonObject = dict[str, Any]

# The client's config loaders and stream helpers are untyped: used through these names only.
_kube_config: Any = config
_iter_resp_lines: Any = kube_watch.iter_resp_lines


class KubeError(Exception):
    """Talking to the cluster failed; the message says what is wrong and what to do."""


class KubeconfigError(KubeError):
    """No usable kubeconfig, or the context asked for is not in it."""


class ClusterUnreachable(KubeError):
    """The API server could not be reached (refused, timed out, TLS, connection lost)."""


class AccessDenied(KubeError):
    """The API server refused the credentials (401) or the operation (403)."""


class ReleaseNotFound(KubeError):
    """No such Release in that namespace (or it was deleted while being followed)."""


class ReleasesNotInstalled(KubeError):
    """The cluster does not know the Release resource: the CRD is not installed."""


class ApiError(KubeError):
    """Any other answer of the API server that is not a success."""


class _WatchExpired(Exception):
    """The server no longer has the resourceVersion the watch started from (410 Gone)."""


class ReleaseClient:
    """The Release read/watch/annotate calls of one cluster connection; a context manager."""

    def __init__(self, api_client: client.ApiClient, *, default_namespace: str) -> None:
        self._api_client: Any = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self.default_namespace = default_namespace
        self.server = str(api_client.configuration.host)

    @classmethod
    def connect(cls, *, kubeconfig: str | None = None, context: str | None = None) -> Self:
        """Connect as kubectl would; no request is made yet."""
        try:
            connection = kube_client.resolve(
                kubeconfig=kubeconfig, context=context, kubeconfig_first=True
            )
        except kube_client.KubeconfigProblem as problem:
            raise KubeconfigError(str(problem)) from None
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

    # -----------------------------------------------------------------------------------------
    # Reads and writes
    # -----------------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> JsonObject:
        with self._translated_errors(namespace=namespace, name=name, verb="get"):
            release = self._custom.get_namespaced_custom_object(
                models.GROUP,
                models.VERSION,
                namespace,
                models.PLURAL,
                name,
                _request_timeout=(CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS),
            )
        return _as_object(release)

    def list_releases(self, namespace: str | None) -> list[JsonObject]:
        """Every Release in `namespace`, or in every namespace when it is None, sorted."""
        timeout = (CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS)
        with self._translated_errors(namespace=namespace, name=None, verb="list"):
            if namespace is None:
                answer = self._custom.list_custom_object_for_all_namespaces(
                    models.GROUP, models.VERSION, models.PLURAL, _request_timeout=timeout
                )
            else:
                answer = self._custom.list_namespaced_custom_object(
                    models.GROUP, models.VERSION, namespace, models.PLURAL, _request_timeout=timeout
                )
        items = [_as_object(item) for item in _as_object(answer).get("items") or []]
        return sorted(items, key=lambda item: (_namespace_of(item), _name_of(item)))

    def annotate(self, namespace: str, name: str, annotations: Mapping[str, str]) -> JsonObject:
        """Merge `annotations` onto the Release (a JSON merge patch) and return the result."""
        body = {"metadata": {"annotations": dict(annotations)}}
        with self._translated_errors(namespace=namespace, name=name, verb="patch"):
            release = self._custom.patch_namespaced_custom_object(
                models.GROUP,
                models.VERSION,
                namespace,
                models.PLURAL,
                name,
                body,
                _content_type="application/merge-patch+json",
                _request_timeout=(CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS),
            )
        return _as_object(release)

    def events(self, namespace: str, name: str) -> list[JsonObject]:
        """The core/v1 Events of the Release, oldest first."""
        selector = f"involvedObject.name={name},involvedObject.kind={models.KIND}"
        with self._translated_errors(namespace=namespace, name=None, verb="list events"):
            response: Any = self._core.list_namespaced_event(
                namespace,
                field_selector=selector,
                _preload_content=False,
                _request_timeout=(CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS),
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

    # -----------------------------------------------------------------------------------------
    # Following one Release
    # -----------------------------------------------------------------------------------------

    def follow(
        self, namespace: str, name: str, *, deadline: float | None
    ) -> Generator[JsonObject, None, None]:
        """The Release now, then again each time it changes, until `deadline` (monotonic).

        Ends quietly when the deadline passes; raises `ReleaseNotFound` if it is deleted.
        """
        release = self.get(namespace, name)
        yield release
        last, version = release, _resource_version(release)
        losses = 0
        while deadline is None or time.monotonic() < deadline:
            try:
                stream = self._watch_once(namespace, name, version, deadline=deadline)
                with contextlib.closing(stream):  # closes the connection when the caller stops
                    for changed in stream:
                        losses = 0
                        version = _resource_version(changed) or version
                        if changed != last:
                            last = changed
                            yield changed
            except _WatchExpired:
                release = self.get(namespace, name)
                version = _resource_version(release)
                if release != last:
                    last = release
                    yield release
            except urllib3.exceptions.ReadTimeoutError:
                continue  # nothing happened for a while: the loop re-checks the deadline
            except (urllib3.exceptions.HTTPError, OSError) as error:
                losses += 1
                if losses > WATCH_RECONNECTS:
                    raise ClusterUnreachable(
                        f"lost the connection to the cluster at {self.server} while following "
                        f"release {name}: {_reason_of(error)}"
                    ) from None
                pause = min(2.0 ** (losses - 1) / 2, 8.0)
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - time.monotonic()))
                time.sleep(pause)

    def _watch_once(
        self, namespace: str, name: str, version: str | None, *, deadline: float | None
    ) -> Generator[JsonObject, None, None]:
        """One watch connection: the changed Release objects, until the server ends it."""
        server_timeout = WATCH_SECONDS
        if deadline is not None:
            server_timeout = max(1, min(WATCH_SECONDS, int(deadline - time.monotonic()) + 1))
        # Connection errors are left to `follow`, which reconnects; 410 means "list again".
        try:
            response: Any = self._custom.list_namespaced_custom_object(
                models.GROUP,
                models.VERSION,
                namespace,
                models.PLURAL,
                field_selector=f"metadata.name={name}",
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=server_timeout,
                watch=True,
                _preload_content=False,
                _request_timeout=(CONNECT_TIMEOUT_SECONDS, _read_timeout(deadline)),
            )
        except client.ApiException as error:
            if error.status == 410:
                raise _WatchExpired() from None
            translation = self._translated_errors(namespace=namespace, name=name, verb="watch")
            raise translation.from_api_exception(error) from None
        try:
            for line in _lines_until(response, deadline):
                if not line.strip():
                    continue
                event = json.loads(line)
                kind = event.get("type")
                obj = _as_object(event.get("object") or {})
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _WatchExpired()
                    raise ApiError(
                        f"the watch of release {name} failed: {obj.get('message') or obj}"
                    )
                if kind == "BOOKMARK" or _name_of(obj) != name:
                    continue
                if kind == "DELETED":
                    raise ReleaseNotFound(
                        f'release "{name}" was deleted from namespace "{namespace}"'
                    )
                yield obj
        finally:
            response.close()
            response.release_conn()

    # -----------------------------------------------------------------------------------------
    # Errors
    # -----------------------------------------------------------------------------------------

    def _translated_errors(
        self, *, namespace: str | None, name: str | None, verb: str
    ) -> _ErrorTranslation:
        return _ErrorTranslation(self, namespace=namespace, name=name, verb=verb)


class _ErrorTranslation:
    """Turns the client's exceptions into `KubeError`s with one sentence for a human."""

    def __init__(
        self, owner: ReleaseClient, *, namespace: str | None, name: str | None, verb: str
    ) -> None:
        self._server = owner.server
        self._namespace = namespace
        self._name = name
        self._verb = verb

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        if error is None:
            return
        if isinstance(error, client.ApiException):
            raise self.from_api_exception(error) from None
        if isinstance(error, urllib3.exceptions.HTTPError | ConnectionError | socket.timeout):
            raise ClusterUnreachable(
                f"cannot reach the cluster at {self._server}: {_reason_of(error)}; check that "
                "it is running and that --kubeconfig/--context point at it"
            ) from None
        if isinstance(error, ConfigException):
            raise KubeconfigError(f"the kubeconfig's credentials are not usable: {error}") from None

    def from_api_exception(self, error: client.ApiException) -> KubeError:
        status = _status_body(error)
        message = str(status.get("message") or error.reason or "").strip()
        where = f'namespace "{self._namespace}"' if self._namespace else "any namespace"
        if error.status == 401:
            return AccessDenied(
                f"the cluster at {self._server} did not accept your credentials (401 "
                "Unauthorized); log in again or pick another --context"
            )
        if error.status == 403:
            return AccessDenied(
                f"not allowed to {self._verb} releases.{models.GROUP} in {where} (403 "
                f"Forbidden: {message}); ask your cluster admin for that right"
            )
        if error.status == 404:
            details = status.get("details") or {}
            if self._name is not None and details.get("name") == self._name:
                return ReleaseNotFound(
                    f'release "{self._name}" not found in {where}; list them with: '
                    f"greenlight get -n {self._namespace} (or -A for every namespace)"
                )
            if self._name is not None and "could not find the requested resource" not in message:
                return ReleaseNotFound(
                    f'release "{self._name}" not found in {where}; list them with: '
                    f"greenlight get -n {self._namespace} (or -A for every namespace)"
                )
            return ReleasesNotInstalled(
                f"the cluster at {self._server} has no {models.PLURAL}.{models.GROUP} resource; "
                "install Greenlight's CRD first (or pick another --context)"
            )
        return ApiError(
            f"the API server refused to {self._verb} releases in {where}: "
            f"{error.status} {message or error.reason}"
        )


def _status_body(error: client.ApiException) -> JsonObject:
    try:
        parsed = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _reason_of(error: BaseException) -> str:
    """The innermost cause of a connection failure, without urllib3's connection details."""
    reason: BaseException = error
    while isinstance(getattr(reason, "reason", None), BaseException):
        reason = reason.reason  # type: ignore[attr-defined]
    text = str(reason) or type(reason).__name__
    # "HTTPConnection(host=..., port=...): Failed to establish ...: [Errno 111] Connection refused"
    if "[Errno" in text:
        text = text.rsplit("] ", 1)[-1]
    return text


def _read_timeout(deadline: float | None) -> float:
    if deadline is None:
        return float(WATCH_SECONDS + 30)
    return max(0.05, deadline - time.monotonic())


def _lines_until(response: Any, deadline: float | None) -> Iterator[str]:
    """The watch's lines; before each read the socket's timeout is cut to what is left.

    urllib3 sets the read timeout once per request; a watch that keeps receiving events would
    otherwise outlive the deadline by up to that timeout.
    """
    sock = getattr(getattr(response, "connection", None), "sock", None)
    lines = _iter_resp_lines(response)
    while True:
        if sock is not None:
            sock.settimeout(_read_timeout(deadline))
        try:
            line = next(lines)
        except StopIteration:
            return
        yield line
        if deadline is not None and time.monotonic() >= deadline:
            return


def _as_object(value: Any) -> JsonObject:
    if isinstance(value, dict):
        return value
    if hasattr(value, "to_dict"):
        converted = value.to_dict()
        if isinstance(converted, dict):
            return converted
    return {}


def _name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _namespace_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


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
