"""The one way the adapters talk to the API server, and what every owned object shares.

`Kube.request()` sends one JSON request through the official client's connection (its host,
TLS and credentials, including token refresh) and returns the decoded body as plain dicts. The
typed API classes are not used: they validate every call and build model objects that would be
turned straight back into dicts, which costs CPU for 1,000 Releases and rejects partial objects.
urllib3's own retries are off (`retries=False`): `greenlight.kube.retry` is the only place that
retries, so a timeout costs one timeout per attempt, with backoff and a metric.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from greenlight import models
from greenlight.kube import retry
from greenlight.kube.client import ApiClient
from greenlight.kube.errors import GatewayError
from greenlight.kube.target import ReleaseTarget
from greenlight.settings import OperatorSettings

JsonObject = dict[str, Any]

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "greenlight"

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def send(
    api_client: ApiClient,
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    body: Any = None,
    content_type: str = JSON,
    accept: str = JSON,
    timeout: float,
    preload_content: bool = True,
) -> urllib3.BaseHTTPResponse:
    """One HTTP request with the client's credentials; any status is returned, none raised.

    Headers come from the client's configuration (`auth_settings()` refreshes an expiring
    token), and the request goes through the client's own connection pool, TLS included.
    `preload_content=False` leaves the body unread: the caller reads what it needs and
    closes the response.
    """
    configuration = api_client.configuration
    headers = {**api_client.default_headers, "Accept": accept}
    for auth in configuration.auth_settings().values():
        if auth.get("in") == "header" and auth.get("value"):
            headers[auth["key"]] = auth["value"]
    if body is not None:
        headers["Content-Type"] = content_type
    url = configuration.host + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    response: urllib3.BaseHTTPResponse = api_client.rest_client.pool_manager.request(
        method,
        url,
        body=None if body is None else json.dumps(body),
        headers=headers,
        timeout=urllib3.Timeout(total=timeout),
        retries=False,
        preload_content=preload_content,
    )
    return response


class Kube:
    """An API client with the operator's retry policy; shared by threads (it keeps no state)."""

    def __init__(
        self,
        api_client: ApiClient,
        settings: OperatorSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        self.settings = settings
        self._sleep = sleep

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
        retry_conflicts: bool = False,
    ) -> JsonObject:
        """The decoded answer; a non-2xx answer left after retries raises `ApiException`."""
        return retry.call(
            self._once,
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            retry_conflicts=retry_conflicts,
            settings=self.settings,
            sleep=self._sleep,
            what=f"{method} {path}",
        )

    def get(self, path: str) -> JsonObject | None:
        """The object at `path`, or None when it does not exist."""
        try:
            return self.request("GET", path)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def items(self, path: str, *, label_selector: str) -> list[JsonObject]:
        listed = self.request("GET", path, query={"labelSelector": label_selector})
        return [item for item in listed.get("items") or [] if isinstance(item, dict)]

    def _once(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None,
        body: Any,
        content_type: str,
        _request_timeout: float,
    ) -> JsonObject:
        response = send(
            self.api_client,
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            timeout=_request_timeout,
        )
        data = response.data
        if not 200 <= response.status <= 299:
            error = ApiException(status=response.status, reason=response.reason)
            error.body = data.decode("utf-8", errors="replace")
            error.headers = response.headers
            raise error
        decoded = json.loads(data) if data else {}
        return decoded if isinstance(decoded, dict) else {}


def get_or_create(kube: Kube, *, collection: str, path: str, body: JsonObject) -> JsonObject | None:
    """The object at `path` if it exists, else None once `body` was created there.

    A create refused with 409 means the object appeared since it was read (a restarted
    operator racing its previous self): it is read again, and created again if it has vanished
    once more. A 409 here is an answer, not a conflict to retry blindly.
    """
    for _ in range(3):
        existing = kube.get(path)
        if existing is not None:
            return existing
        try:
            kube.request("POST", collection, body=body)
            return None
        except ApiException as error:
            if error.status != 409:
                raise
    raise GatewayError(f"{path} is refused as existing and read as absent; giving up for now")


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def owner_reference(target: ReleaseTarget) -> JsonObject:
    """Owned objects go when the Release goes; `controller` marks Greenlight as their manager."""
    return {
        "apiVersion": models.API_VERSION,
        "kind": models.KIND,
        "name": target.name,
        "uid": target.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_owned(obj: Mapping[str, Any], target: ReleaseTarget) -> bool:
    """Whether Greenlight manages `obj` for this Release: the controller reference to the
    Release (kind and uid) and the managed-by label, as `owner_reference()` and
    `managed_labels()` write them.

    Any reference to the uid is not enough: the uid is readable by whoever can read the
    Release, so a plain (non-controller) reference is easy to forge onto an object of one's own.
    """
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if not isinstance(labels, dict) or labels.get(LABEL_MANAGED_BY) != MANAGER:
        return False
    references = metadata.get("ownerReferences") or []
    return any(
        ref.get("controller") is True
        and ref.get("uid") == target.uid
        and ref.get("kind") == models.KIND
        and str(ref.get("apiVersion", "")).split("/")[0] == models.GROUP
        for ref in references
        if isinstance(ref, dict)
    )


def release_selector(target: ReleaseTarget) -> str:
    return f"{models.LABEL_RELEASE}={target.name}"


def managed_labels(target: ReleaseTarget) -> dict[str, str]:
    return {models.LABEL_RELEASE: target.name, LABEL_MANAGED_BY: MANAGER}
