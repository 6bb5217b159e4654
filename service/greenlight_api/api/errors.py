"""Every error answer is JSON `{"detail": ...}`, and none of a client's mistakes is a 5xx.

- invalid name, body, JSON or query: 422; `detail` lists each problem with its field,
  `message` sums them up in one line;
- no token, or a bad one: 401 with `WWW-Authenticate: Bearer`;
- not allowed: 403;
- no such Release: 404;
- the action makes no sense now: 409 with the reason from `greenlight.user_actions`;
- too many event streams of one user, or too many rejected tokens: 429 with `Retry-After`;
- the Kubernetes API fails, or the cache is not synced yet: 503 with the reason and
  `Retry-After`;
- a bug: 500 with the request id, answered and logged by `core.middleware`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from greenlight import user_actions
from greenlight.kube import errors as kube_errors
from greenlight_api import auth
from greenlight_api.api import streams

logger = logging.getLogger(__name__)


class NotReady(Exception):
    """503: the Release cache has not finished its first listing."""


class ReleaseNotFound(Exception):
    """404."""


def _problem(status: int, detail: Any, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in {"body", "path", "query", "header"}:
        loc = loc[1:] or loc
    where = ".".join(loc) or "request"
    return f"{where}: {error.get('msg', 'invalid')}"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # registered for that type only
        raise exc
    problems = [
        {k: v for k, v in error.items() if k in {"loc", "msg", "type"}} for error in exc.errors()
    ]
    return JSONResponse(
        {
            "detail": jsonable_encoder(problems),
            "message": "; ".join(_describe(error) for error in problems),
        },
        status_code=422,
    )


def _answer(status: int, **headers: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler that answers `status` in the exception's own words."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        return _problem(status, str(exc), **headers)

    return answer


async def _kube_not_found(request: Request, exc: Exception) -> JSONResponse:
    return _problem(404, exc.message if isinstance(exc, kube_errors.KubeError) else str(exc))


async def _kube_failed(request: Request, exc: Exception) -> JSONResponse:
    """Any other failure of the Kubernetes API, the service's own credentials included: 503,
    since the caller can do nothing about it but retry later."""
    if not isinstance(exc, kube_errors.KubeError):  # registered for that type only
        raise exc
    if isinstance(exc, kube_errors.Unreachable):
        problem = f"the Kubernetes API is unreachable ({exc.message})"
    elif isinstance(exc, kube_errors.Forbidden):
        problem = (
            "the Kubernetes API refused the service's own credentials "
            f"({exc.status}: {exc.message})"
        )
    elif exc.status is None:
        problem = exc.message
    else:
        problem = f"the Kubernetes API answered {exc.status} ({exc.message})"
    return await _unavailable(
        request, Exception(f"{exc.doing}: {problem}" if exc.doing else problem)
    )


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("answering 503: %s", exc)
    return _problem(503, str(exc), **{"Retry-After": "5"})


def install(app: FastAPI) -> None:
    refused, too_many = _answer(409), _answer(429, **{"Retry-After": "10"})
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(auth.Unauthenticated, _answer(401, **{"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(auth.Forbidden, _answer(403))
    app.add_exception_handler(ReleaseNotFound, _answer(404))
    app.add_exception_handler(kube_errors.NotFound, _kube_not_found)
    app.add_exception_handler(user_actions.ActionRefused, refused)
    app.add_exception_handler(kube_errors.Conflict, refused)
    app.add_exception_handler(kube_errors.KubeError, _kube_failed)
    app.add_exception_handler(streams.TooManyStreams, too_many)
    app.add_exception_handler(auth.TooManyNewTokens, too_many)
    app.add_exception_handler(NotReady, _unavailable)
