"""The Release API: list, detail, and the three actions.

Reads come from the cache. Actions read the Release fresh from the API server, ask
`greenlight.user_actions` whether the action makes sense now (the CLI asks the same, so both
refuse with the same words), and merge-patch the contract's annotation: the operator stays
the only thing that moves traffic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pydantic
from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError

from greenlight import models, user_actions
from greenlight_api import schemas
from greenlight_api.api import deps
from greenlight_api.kube.gateway import Cluster

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["releases"])


@router.get(
    "/releases",
    summary="Every Release the caller may list (in one namespace with ?namespace=)",
    response_model=schemas.ReleaseList,
    responses=schemas.PROBLEMS,
)
async def list_releases(found: deps.ListedDep) -> Response:
    # The summaries are encoded once, when a Release changes: listing is a join.
    content = b'{"items":[' + b",".join(record.summary_json for record in found) + b"]}"
    return Response(content, media_type="application/json")


@router.get(
    "/namespaces/{ns}/releases/{name}",
    summary="One Release: spec in brief, status, gates, conditions, history, possible actions",
    response_model=schemas.ReleaseDetail,
    response_model_by_alias=True,
    responses=schemas.PROBLEMS,
)
async def get_release(_: deps.ReaderDep, record: deps.RecordDep) -> Response:
    return Response(record.detail().model_dump_json(by_alias=True), media_type="application/json")


Planner = Callable[[str, models.ReleaseStatus], user_actions.ActionPlan]


async def _act(
    action: str,
    ns: str,
    name: str,
    plan: Planner,
    *,
    caller: str,
    cluster: Cluster,
) -> schemas.ActionAccepted:
    body = await cluster.get_release(ns, name)
    release_status, _ = models.read_status(body)
    chosen = plan(name, release_status)  # raises ActionRefused: 409 with its reason
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    user_actions.refuse_beside_malformed(name, ns, chosen, annotations)
    await cluster.patch_annotations(ns, name, chosen.annotations)
    logger.info(
        "%s of %s/%s requested by %s: %s",
        action,
        ns,
        name,
        caller,
        chosen.description,
        extra={"action": action, "namespace": ns, "release": name, "user": caller},
    )
    return schemas.ActionAccepted(
        action=action,
        namespace=ns,
        name=name,
        annotations=chosen.annotations,
        description=chosen.description,
    )


# Actions take a body: one over the body limit is refused with 413 before anything reads it.
_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **schemas.PROBLEMS,
    409: {"model": schemas.Problem},
    413: {"model": schemas.Problem, "description": "Request body too large"},
}


@router.post(
    "/namespaces/{ns}/releases/{name}/promote",
    summary="Promote a Release waiting in AwaitingPromotion",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.ActionAccepted,
    responses=_ACTION_ERRORS,
)
async def promote(
    ns: deps.Namespace, name: deps.ReleaseName, caller: deps.ActorDep, cluster: deps.ClusterDep
) -> schemas.ActionAccepted:
    return await _act(
        "promote", ns, name, user_actions.plan_promote, caller=caller.name, cluster=cluster
    )


@router.post(
    "/namespaces/{ns}/releases/{name}/abort",
    summary="Abort the release in flight: traffic stays on (or returns to) the stable revision",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.ActionAccepted,
    responses=_ACTION_ERRORS,
)
async def abort(
    ns: deps.Namespace, name: deps.ReleaseName, caller: deps.ActorDep, cluster: deps.ClusterDep
) -> schemas.ActionAccepted:
    return await _act(
        "abort", ns, name, user_actions.plan_abort, caller=caller.name, cluster=cluster
    )


_ROLLBACK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": schemas.RollbackRequest.model_json_schema()}},
    }
}


async def _rollback_body(request: Request) -> schemas.RollbackRequest | None:
    """`{"revision": n}`, `null` or nothing; 422 naming the problem otherwise."""
    raw = await request.body()
    if not raw.strip():
        return None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON expected (application/json)"}]
        )
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        position = getattr(error, "pos", 0)
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error"}]
        ) from None
    if decoded is None:
        return None
    try:
        return schemas.RollbackRequest.model_validate(decoded)
    except pydantic.ValidationError as error:
        problems = [
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in error.errors()
        ]
        raise RequestValidationError(problems) from None


@router.post(
    "/namespaces/{ns}/releases/{name}/rollback",
    summary="Release an earlier revision again (by default, the one before the stable one)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.ActionAccepted,
    responses=_ACTION_ERRORS,
    openapi_extra=_ROLLBACK_BODY,
)
async def rollback(
    ns: deps.Namespace,
    name: deps.ReleaseName,
    caller: deps.ActorDep,
    cluster: deps.ClusterDep,
    request: Request,
) -> schemas.ActionAccepted:
    # The body is read here, after `ActorDep` authenticated and authorized the caller: a body
    # parameter would be read and parsed by FastAPI before any dependency runs.
    body = await _rollback_body(request)
    revision = body.revision if body is not None else None

    def plan(release: str, release_status: models.ReleaseStatus) -> user_actions.ActionPlan:
        return user_actions.plan_rollback(release, release_status, revision)

    return await _act("rollback", ns, name, plan, caller=caller.name, cluster=cluster)
