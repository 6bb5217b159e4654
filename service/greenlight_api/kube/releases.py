"""Release objects through the API: list, watch, get, and merge-patching annotations.

All calls block; run them off the event loop. Every client exception leaves as a `KubeError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Iterator
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException

from greenlight import models
from greenlight_api.kube import errors

Body = dict[str, Any]


def _as_body(result: object, doing: str) -> Body:
    if not isinstance(result, dict):
        raise errors.Unavailable(f"{doing}: unexpected answer {type(result).__name__}")
    return result


@dataclasses.dataclass(frozen=True, kw_only=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK or ERROR
    object: Body


class Expired(errors.KubeError):
    """The resourceVersion to watch from is too old (410 Gone): list again."""


class WatchStream:
    """One WATCH request's events, as they arrive. `close()` may be called from any thread."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[WatchEvent]:
        buffer = b""
        try:
            for chunk in self._response.stream(65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield self._parse(line)
        except Exception as exc:
            if self._closed.is_set():
                return
            raise errors.translate(exc, doing="watching Releases") from exc
        finally:
            self._release()
        if buffer.strip() and not self._closed.is_set():
            yield self._parse(buffer)

    @staticmethod
    def _parse(line: bytes) -> WatchEvent:
        try:
            data = json.loads(line)
            event = WatchEvent(type=str(data["type"]), object=dict(data["object"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.Unavailable(f"watching Releases: unreadable event ({exc})") from exc
        if event.type == "ERROR":
            code = event.object.get("code")
            message = event.object.get("message", "")
            if code == 410:
                raise Expired(f"watch expired: {message}")
            raise errors.Unavailable(f"watching Releases: error event {code} ({message})")
        return event

    def close(self) -> None:
        self._closed.set()
        # Best effort: the reader ends either way, at the latest when the watch times out.
        with contextlib.suppress(Exception):
            self._response.shutdown()

    def _release(self) -> None:
        with contextlib.suppress(Exception):
            self._response.release_conn()


class ReleaseClient:
    def __init__(self, api_client: kubernetes.client.ApiClient, *, timeout: float) -> None:
        self._api = kubernetes.client.CustomObjectsApi(api_client)
        self._timeout = timeout

    def list(self, namespace: str | None) -> tuple[list[Body], str]:
        """Every Release (of one namespace, or all), and the resourceVersion to watch from."""
        try:
            if namespace is None:
                result = self._api.list_cluster_custom_object(
                    models.GROUP, models.VERSION, models.PLURAL, _request_timeout=self._timeout
                )
            else:
                result = self._api.list_namespaced_custom_object(
                    models.GROUP,
                    models.VERSION,
                    namespace,
                    models.PLURAL,
                    _request_timeout=self._timeout,
                )
        except Exception as exc:
            raise errors.translate(exc, doing="listing Releases") from exc
        listing = _as_body(result, "listing Releases")
        items = [dict(item) for item in listing.get("items") or []]
        version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
        return items, version

    def watch(self, namespace: str | None, resource_version: str, seconds: int) -> WatchStream:
        """Open a WATCH from `resource_version`; the server ends it after `seconds`."""
        kwargs: dict[str, Any] = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": seconds,
            "_preload_content": False,
            # Connect quickly; reads may idle as long as the watch lasts, plus a margin.
            "_request_timeout": (self._timeout, seconds + self._timeout),
        }
        if resource_version:
            kwargs["resource_version"] = resource_version
        try:
            if namespace is None:
                response = self._api.list_cluster_custom_object(
                    models.GROUP, models.VERSION, models.PLURAL, **kwargs
                )
            else:
                response = self._api.list_namespaced_custom_object(
                    models.GROUP, models.VERSION, namespace, models.PLURAL, **kwargs
                )
        except ApiException as exc:
            if exc.status == 410:
                raise Expired("watch expired before it started") from exc
            raise errors.translate(exc, doing="watching Releases") from exc
        except Exception as exc:
            raise errors.translate(exc, doing="watching Releases") from exc
        return WatchStream(response)

    def get(self, namespace: str, name: str) -> Body:
        try:
            result = self._api.get_namespaced_custom_object(
                models.GROUP,
                models.VERSION,
                namespace,
                models.PLURAL,
                name,
                _request_timeout=self._timeout,
            )
        except Exception as exc:
            raise errors.translate(exc, doing=f"reading Release {namespace}/{name}") from exc
        return _as_body(result, f"reading Release {namespace}/{name}")

    def patch_annotations(self, namespace: str, name: str, annotations: dict[str, str]) -> Body:
        """Merge `annotations` into the Release's metadata (a JSON merge patch)."""
        try:
            result = self._api.patch_namespaced_custom_object(
                models.GROUP,
                models.VERSION,
                namespace,
                models.PLURAL,
                name,
                {"metadata": {"annotations": annotations}},
                _content_type="application/merge-patch+json",
                _request_timeout=self._timeout,
            )
        except Exception as exc:
            raise errors.translate(exc, doing=f"annotating Release {namespace}/{name}") from exc
        return _as_body(result, f"annotating Release {namespace}/{name}")
