"""`ClusterGateway`: the one facade through which the handlers see and change the cluster.

`observe()` reads what the decision needs about one Release in as few requests as it can (one
LIST of Deployments, two Service GETs, one LIST of stored revisions, and the EndpointSlices only
when asked); `apply()` carries out one decided action, idempotently, tolerating objects that
already exist or are already gone; `write_status()` writes the status the decision computed.

It only dispatches to the per-kind modules. It is synchronous, to be called from the handlers'
worker threads, and safe to share between them: its only state is a cache of revision templates,
which never change once stored.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import logging
import threading
import time
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from greenlight import models
from greenlight.kube import (
    deployments,
    endpointslices,
    errors,
    events,
    releases,
    revisions,
    secrets,
    services,
)
from greenlight.kube.client import ApiClient
from greenlight.kube.common import JsonObject, Kube
from greenlight.kube.errors import RevisionNotFound, TemplateMismatch, TemplateRejected
from greenlight.kube.target import ReleaseTarget
from greenlight.models import Color
from greenlight.rollout import actions as act
from greenlight.rollout.observation import ColorState, ServiceState
from greenlight.settings import OperatorSettings

logger = logging.getLogger(__name__)

TEMPLATE_CACHE_SIZE = 4096


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClusterView:
    """The cluster's part of an `Observation`."""

    colors: Mapping[Color, ColorState]
    active_service: ServiceState
    preview_service: ServiceState
    active_endpoint_colors: frozenset[Color] | None
    stored_revisions: frozenset[int]
    retired_services: Mapping[str, ServiceState] = dataclasses.field(default_factory=dict)


class ClusterGateway:
    def __init__(
        self,
        api_client: ApiClient,
        settings: OperatorSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self._kube = Kube(api_client, settings, sleep=sleep)
        self._clock = clock
        self._lock = threading.Lock()
        self._templates: collections.OrderedDict[tuple[str, int], JsonObject] = (
            collections.OrderedDict()
        )

    def observe(
        self,
        target: ReleaseTarget,
        *,
        want_endpoints: bool,
        retired_services: Collection[str] = (),
    ) -> ClusterView:
        kube = self._kube
        return ClusterView(
            colors=deployments.observe(kube, target),
            active_service=services.observe(kube, target, target.active_service),
            preview_service=services.observe(kube, target, target.preview_service),
            active_endpoint_colors=endpointslices.observe(kube, target) if want_endpoints else None,
            stored_revisions=frozenset(revisions.list_revisions(kube, target)),
            retired_services={
                name: services.observe(kube, target, name) for name in retired_services
            },
        )

    def apply(self, target: ReleaseTarget, action: act.Action) -> None:
        logger.debug("%s/%s: %s", target.namespace, target.name, action)
        kube = self._kube
        match action:
            case act.StoreRevision(revision=revision, template_hash=wanted):
                actual = target.template_hash
                if actual != wanted:
                    raise TemplateMismatch(
                        f"revision {revision} should hold template {wanted}, "
                        f"but the spec's template is {actual}"
                    )
                revisions.store(kube, target, revision=revision, template=target.template)
                self._remember(target, revision, target.template)
            case act.DeployColor(color=color, revision=revision, replicas=replicas):
                template = self._template(target, revision)
                body = deployments.build(
                    target, color=color, revision=revision, template=template, replicas=replicas
                )
                try:
                    deployments.create_or_patch(kube, target, body)
                except ApiException as error:
                    if error.status not in (400, 422):
                        raise
                    raise TemplateRejected(revision=revision, reason=_refusal(error)) from error
            case act.ScaleColor(color=color, replicas=replicas):
                deployments.scale(kube, target, color=color, replicas=replicas)
            case act.PointService(role=role, color=color, target_port=target_port):
                name = (
                    target.active_service
                    if role is act.ServiceRole.ACTIVE
                    else target.preview_service
                )
                services.point(kube, target, name=name, color=color, target_port=target_port)
            case act.RemoveService(name=name):
                services.remove(kube, target, name)
            case act.RemoveAnnotation(key=key, value=value):
                releases.remove_annotation(kube, target, key, value=value)
            case act.PruneRevisions(keep=keep):
                for revision in revisions.prune(kube, target, keep=keep):
                    self._forget(target, revision)
            case act.PostEvent(
                type=event_type, reason=reason, message=message, sequence=sequence, at=at
            ):
                body = events.build(
                    target,
                    event_type=str(event_type),
                    reason=reason,
                    message=message,
                    now=at or self._clock(),
                    sequence=sequence,
                )
                events.post(kube, body)
            case _:
                typing.assert_never(action)

    def recheck(self, namespace: str, name: str, note: str) -> bool:
        """Asks for the Release to be looked at again (an object it owns changed under it)."""
        return releases.set_annotation(self._kube, namespace, name, models.ANNOTATION_RECHECK, note)

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data as text (None: it does not exist)."""
        return secrets.read(self._kube, namespace, name)

    def write_status(self, target: ReleaseTarget, status: Mapping[str, Any]) -> None:
        releases.write_status(self._kube, target, status)

    def _template(self, target: ReleaseTarget, revision: int) -> JsonObject:
        with self._lock:
            cached = self._templates.get((target.uid, revision))
            if cached is not None:
                self._templates.move_to_end((target.uid, revision))
                return cached
        template = revisions.read_template(self._kube, target, revision)
        if template is None:
            raise RevisionNotFound(
                namespace=target.namespace, release=target.name, revision=revision
            )
        self._remember(target, revision, template)
        return template

    def _remember(self, target: ReleaseTarget, revision: int, template: JsonObject) -> None:
        template = copy.deepcopy(template)  # the caller's dict may change; a revision may not
        with self._lock:
            self._templates[(target.uid, revision)] = template
            self._templates.move_to_end((target.uid, revision))
            while len(self._templates) > TEMPLATE_CACHE_SIZE:
                self._templates.popitem(last=False)

    def _forget(self, target: ReleaseTarget, revision: int) -> None:
        with self._lock:
            self._templates.pop((target.uid, revision), None)


def _refusal(error: ApiException) -> str:
    """The API server's own sentence from a refusal (its `Status.message`), else the reason."""
    message = errors.status_body(error.body).get("message")
    return str(message or error.reason or f"HTTP {error.status}")[:500]
