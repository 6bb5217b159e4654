"""Every status a route can answer is in the OpenAPI document, with the shape it answers.

The statuses a route can answer are derived from what it depends on (`api.deps`) and the
exception handlers (`api.errors`): a schema fuzzer, or a client generated from the document,
meets every one of them. A body refused for its bytes answers as every other validation error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from greenlight_api.api import deps
from greenlight_api.core.config import Settings
from greenlight_api.main import create_app
from tests.service.conftest import Service

# What each dependency can raise, as the handlers in `api.errors` answer it.
RAISES: dict[Callable[..., Any], set[int]] = {
    # No or a bad token 401, a refused review 403, too many new tokens 429, the review
    # itself unavailable 503.
    deps.get_caller: {401, 403, 429, 503},
    # The cache not synced yet.
    deps.get_synced_cache: {503},
    # No such Release in the cache.
    deps.get_record: {404},
    # A fresh read and a patch: gone 404, refused or conflicting 409, the API server down 503.
    deps.get_cluster: {404, 409, 503},
    # Too many event streams of one user.
    deps.get_stream_slots: {429},
}
BODY_METHODS = {"POST", "PUT", "PATCH"}
APP = create_app(Settings(), configure_logging=False)
DOCUMENT = APP.openapi()


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _all(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dependency in dependant.dependencies:
        yield from _all(dependency)


def expected_statuses(route: APIRoute, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses `route` can answer."""
    expected: set[int] = set()
    for call in _calls(route.dependant):
        expected |= RAISES.get(call, set())
    every = list(_all(route.dependant))
    if any(d.path_params or d.query_params or d.header_params for d in every):
        expected.add(422)  # a name or a filter out of its pattern
    if method in BODY_METHODS or any(d.body_params for d in every) or "requestBody" in operation:
        # Over the body limit (`core.body_limit`), or not what the route parses.
        expected |= {413, 422}
    return expected


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # Newer FastAPI keeps an included router as one route that wraps it.
        included = getattr(route, "original_router", None)
        if included is not None:
            assert not route.include_context.dependencies, "dependencies of an include"
            yield from _routes(included.routes)


def _operations() -> list[tuple[APIRoute, str]]:
    return [
        (route, method)
        for route in _routes(APP.routes)
        if route.include_in_schema and route.path_format in DOCUMENT["paths"]
        for method in sorted(route.methods or ())
    ]


def test_every_documented_operation_is_checked() -> None:
    checked = {(route.path_format, method.lower()) for route, method in _operations()}
    documented = {(path, method) for path, ops in DOCUMENT["paths"].items() for method in ops}
    assert checked == documented


@pytest.mark.parametrize(
    ("route", "method"), _operations(), ids=lambda value: getattr(value, "path", value)
)
def test_every_status_a_route_can_answer_is_documented(route: APIRoute, method: str) -> None:
    operation = DOCUMENT["paths"][route.path_format][method.lower()]
    documented = {int(code) for code in operation["responses"]}
    assert expected_statuses(route, method, operation) - documented == set()


def test_routes_that_need_a_caller_or_take_a_body_are_found() -> None:
    """The derivation sees auth and bodies where they are (it could otherwise pass vacuously)."""
    found = {
        (route.path, method): expected_statuses(
            route, method, DOCUMENT["paths"][route.path_format][method.lower()]
        )
        for route, method in _operations()
    }
    rollback = found[("/api/v1/namespaces/{ns}/releases/{name}/rollback", "POST")]
    assert rollback == {401, 403, 404, 409, 413, 422, 429, 503}
    assert found[("/api/v1/releases", "GET")] == {401, 403, 422, 429, 503}
    assert found[("/api/v1/events", "GET")] >= {401, 403, 429}
    assert found[("/healthz", "GET")] == set()


def test_every_error_is_documented_as_a_problem() -> None:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) < 400 or path == "/readyz":
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, code)


ROLLBACK = "/api/v1/namespaces/shop/releases/web/rollback"
ALICE = {"Authorization": "Bearer alice-token"}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"\x00\xff{", "application/json"),
        (b"{not json", "application/json"),
        (b"revision=2", "application/x-www-form-urlencoded"),
        (b'{"revision": "two"}', "application/json"),
    ],
)
def test_body_errors_answer_as_other_validation_errors(
    service: Service, content: bytes, content_type: str
) -> None:
    reference = service.client.post(
        "/api/v1/namespaces/shop/releases/Not_A_Name/rollback", headers=ALICE
    )
    assert reference.status_code == 422
    answer = service.client.post(
        ROLLBACK, content=content, headers={**ALICE, "Content-Type": content_type}
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == reference.headers["content-type"]
    body, expected = answer.json(), reference.json()
    assert body.keys() == expected.keys() == {"detail", "message"}
    assert [problem.keys() for problem in body["detail"]] == [
        {"loc", "msg", "type"} for _ in body["detail"]
    ]
    assert body["detail"][0]["loc"][0] == "body"
