"""Security hardening of the service: the attacks of the security review, each performed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from greenlight_api import auth
from greenlight_api.api import deps
from greenlight_api.core.config import AuthMode, Settings
from greenlight_api.main import create_app
from tests.service import factories
from tests.service.conftest import ALICE, Service


def test_the_access_log_duration_is_the_requests_own(
    make_service: Callable[..., Service], caplog: pytest.LogCaptureFixture
) -> None:
    svc = make_service()
    with caplog.at_level(logging.INFO, logger="greenlight_api.access"):
        before = time.perf_counter()
        assert svc.client.get("/version").status_code == 200
        took_ms = (time.perf_counter() - before) * 1000
    (line,) = [r for r in caplog.records if r.name == "greenlight_api.access"]
    duration_ms = line.__dict__["duration_ms"]
    assert 0 <= duration_ms <= took_ms


ROLLBACK = "/api/v1/namespaces/shop/releases/web/rollback"


def test_a_large_rollback_body_is_413_before_authentication(service: Service) -> None:
    response = service.client.post(ROLLBACK, content=b"{" + b" " * (10 * 1024 * 1024) + b"}")
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["detail"]
    assert service.cluster.token_reviews == 0


def test_an_unauthenticated_rollback_is_401_whatever_its_body(service: Service) -> None:
    for body in (b"{", b'{"revision": "x"}', b'{"revision": 2}'):
        response = service.client.post(
            ROLLBACK, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401, (body, response.text)


async def _rollback_with_endless_body(*, token: bytes | None) -> tuple[int, int]:
    """(status, chunks the app took) of a chunked rollback whose body never ends."""
    app = create_app(Settings(), configure_logging=False)
    cluster = factories.FakeCluster()
    cluster.tokens = {"alice-token": ALICE}
    cluster.rights = {("devs", "create/actions", "shop")}
    app.dependency_overrides[deps.get_authenticator] = lambda: auth.Authenticator(
        mode=AuthMode.TOKENREVIEW, cluster=cluster, cache_seconds=0, metrics=app.state.metrics
    )
    app.dependency_overrides[deps.get_cluster] = lambda: cluster
    taken = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal taken
        taken += 1
        if taken > 10_000:  # 640 MiB: the app read far more than it should
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b" " * 65536, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": ROLLBACK,
        "raw_path": ROLLBACK.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            *([(b"authorization", b"Bearer " + token)] if token else []),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    return start["status"], taken


def test_an_endless_chunked_body_is_never_read_for_an_anonymous_caller() -> None:
    status, taken = asyncio.run(_rollback_with_endless_body(token=None))
    assert status == 401
    assert taken == 0


def test_an_endless_chunked_body_is_cut_off_at_the_limit() -> None:
    status, taken = asyncio.run(_rollback_with_endless_body(token=b"alice-token"))
    assert status == 413
    assert taken <= 2


def test_the_body_limit_is_a_setting(service: Service) -> None:
    with pytest.raises(ValueError):
        Settings(max_body_bytes=10)
    assert Settings().max_body_bytes == 65536


def test_the_docs_ui_is_off_unless_asked_for(make_service: Callable[..., Service]) -> None:
    svc = make_service()
    for path in ("/docs", "/redoc"):
        assert svc.client.get(path).status_code == 404
    assert svc.client.get("/openapi.json").status_code == 200
    app = create_app(Settings(docs_ui=True), configure_logging=False)
    assert any(getattr(route, "path", None) == "/docs" for route in app.routes)


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/version", False),
        ("/openapi.json", False),
        ("/api/v1/releases", True),
        ("/api/v1/releases", False),  # the 401 too
        ("/api/v1/nothing", False),
    ],
)
def test_json_answers_are_not_sniffed_nor_stored(service: Service, path: str, auth: bool) -> None:
    headers = {"Authorization": "Bearer alice-token"} if auth else {}
    response = service.client.get(path, headers=headers)
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_html_pages_carry_a_content_security_policy(make_service: Callable[..., Service]) -> None:
    app = create_app(Settings(docs_ui=True), configure_logging=False)
    page = TestClient(app).get("/docs")  # no lifespan: nothing to connect to
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    dashboard = make_service().client.get("/")
    assert "script-src 'self'" in dashboard.headers["content-security-policy"]


def test_every_status_a_rollback_answers_is_in_the_openapi_document(service: Service) -> None:
    """A schema fuzzer flags any status the document does not list: send what it sends (no
    auth, bytes that are not JSON, a body over the limit) and check each answer is listed."""
    documented = service.client.get("/openapi.json").json()["paths"][
        "/api/v1/namespaces/{ns}/releases/{name}/rollback"
    ]["post"]["responses"]
    json_header = {"Content-Type": "application/json"}
    answers = {
        service.client.post(ROLLBACK, content=b"\x00\xff{", headers=json_header).status_code,
        service.client.post(ROLLBACK, content=b"{" + b" " * 70_000 + b"}").status_code,
    }
    assert answers == {401, 413}
    assert answers <= {int(code) for code in documented}
    assert {"202", "401", "403", "404", "409", "413", "422", "503"} <= set(documented)
