"""The dashboard's page and fragments, as HTML (the browser test drives the script)."""

from __future__ import annotations

from collections.abc import Callable

from greenlight_api.core.config import AuthMode
from tests.service import factories
from tests.service.conftest import ALICE_AUTH, Service


def test_without_auth_the_page_is_rendered_with_every_release(
    make_service: Callable[..., Service],
) -> None:
    svc = make_service(AuthMode.NONE)
    svc.put(factories.release("web"), factories.release("api", "other", phase="Verifying"))
    response = svc.client.get("/")
    assert response.status_code == 200
    html = response.text
    assert 'id="release-shop.web"' in html and 'id="release-other.api"' in html
    assert 'data-rendered="yes"' in html
    assert "Authentication is off" in html
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert '<script src="/static/dashboard.js" defer>' in html


def test_with_auth_the_page_asks_for_a_token_and_shows_nothing(service: Service) -> None:
    service.put(factories.release("web"))
    html = service.client.get("/").text
    assert 'id="token-form"' in html
    assert 'data-rendered="no"' in html
    assert "release-shop.web" not in html


def test_fragments_need_a_token_and_respect_rights(service: Service) -> None:
    service.put(factories.release("web"), factories.release("x", "other"))
    assert service.client.get("/ui/releases").status_code == 401
    html = service.client.get("/ui/releases", headers=ALICE_AUTH).text
    assert "release-shop.web" in html and "release-other.x" not in html
    one = service.client.get("/ui/namespaces/shop/releases/web", headers=ALICE_AUTH)
    assert one.status_code == 200 and html.count('<tbody class="release"') == 1
    assert (
        service.client.get("/ui/namespaces/other/releases/x", headers=ALICE_AUTH).status_code == 403
    )


def test_buttons_follow_what_the_actions_allow(service: Service) -> None:
    service.put(factories.release(phase="AwaitingPromotion", current=3, auto_promote=False))
    html = service.client.get("/ui/namespaces/shop/releases/web", headers=ALICE_AUTH).text
    assert '<button type="button" data-action="promote"  title=' in html
    assert 'data-action="abort"  title=' in html
    assert 'data-action="rollback" data-revision="1"' in html


def test_what_a_release_waits_for_is_shown_and_listed(service: Service) -> None:
    body = factories.release(phase="Verifying", current=3)
    waiting = {"reason": "GatePasses", "message": "waiting: gate readyz has 1 of 3 passes"}
    body["status"]["waiting"] = waiting
    service.put(body, factories.release("idle"))
    html = service.client.get("/ui/namespaces/shop/releases/web", headers=ALICE_AUTH).text
    assert '<span class="waiting">waiting: gate readyz has 1 of 3 passes</span>' in html
    listed = service.client.get("/api/v1/releases", headers=ALICE_AUTH).json()
    by_name = {item["name"]: item for item in listed["items"]}
    assert by_name["web"]["waiting"] == waiting["message"]
    assert by_name["idle"]["waiting"] == ""


def test_text_from_the_cluster_is_escaped(service: Service) -> None:
    body = factories.release()
    body["status"]["message"] = '<img src=x onerror="alert(1)">'
    service.put(body)
    html = service.client.get("/ui/releases", headers=ALICE_AUTH).text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_static_files_are_served(service: Service) -> None:
    assert "EventSource" not in service.client.get("/static/dashboard.js").text
    assert service.client.get("/static/dashboard.css").status_code == 200
