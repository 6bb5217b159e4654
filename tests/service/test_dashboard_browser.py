"""The dashboard in a real headless Chromium: token entry, rows, live updates from the event
stream, and a button press reaching the API and the cluster."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

from greenlight import models
from greenlight_api.core.config import AuthMode, Settings
from greenlight_sandbox.emulator import EmulatedCluster, UserInfo, wait_for
from tests.service import live

CHROMIUM = pathlib.Path("/usr/bin/chromium")
# The pipeline sets it: there a missing Chromium is a failure, never a skip.
REQUIRED = os.environ.get("GREENLIGHT_REQUIRE_BROWSER") == "1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not REQUIRED,
        reason="needs Debian's chromium (apt-get install chromium)",
    ),
]

ROW = 'tbody[data-namespace="shop"][data-name="{}"]'

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing (GREENLIGHT_REQUIRE_BROWSER=1)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert errors == [], errors


def test_dashboard_end_to_end(kube_cluster: EmulatedCluster, browser_page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(browser_page, Page)
    page = browser_page
    cluster = kube_cluster
    live.prepare(cluster)
    cluster.tokens["alice-token"] = UserInfo("alice", ("devs",))
    for verb in ("get", "list"):
        cluster.allow("devs", verb, "releases", "shop")
    cluster.allow("devs", "create", "releases/actions", "shop")
    live.make_release(
        cluster, "web", phase="AwaitingPromotion", currentRevision=2, previewColor="green"
    )
    live.make_release(
        cluster, "api", phase="Succeeded", activeColor="blue", stableRevision=1, currentRevision=1
    )
    settings = Settings(
        kubeconfig=str(cluster.kubeconfig_path),
        auth=AuthMode.TOKENREVIEW,
        sse_keepalive_seconds=1,
    )
    with live.serve_in_thread(settings) as url:
        page.goto(url + "/")
        expect(page.locator("#token-form")).to_be_visible()
        expect(page.locator("tbody.release")).to_have_count(0)

        page.fill("#token", "alice-token")
        page.click("#token-form button[type=submit]")
        expect(page.locator("tbody.release")).to_have_count(2)
        expect(page.locator("#live")).to_have_text("live")
        assert page.evaluate("sessionStorage.getItem('greenlight.token')") == "alice-token"

        web = page.locator(ROW.format("web"))
        expect(web.locator(".phase")).to_have_text("AwaitingPromotion")
        expect(web.locator(".chip.green")).to_be_visible()
        expect(page.locator(ROW.format("api") + " button[data-action=promote]")).to_be_disabled()

        # A change in the cluster reaches the page through the event stream.
        live.set_status(cluster, "api", phase="Progressing", currentRevision=2, stableRevision=1)
        expect(page.locator(ROW.format("api"))).to_have_attribute("data-phase", "Progressing")

        # A button press reaches the API, which writes the annotation.
        web.locator("button[data-action=promote]").click()
        expect(web.locator("output.result")).to_contain_text("promote accepted")

        def annotated() -> bool:
            stored = cluster.get(models.API_VERSION, models.PLURAL, "shop", "web") or {}
            annotations = stored["metadata"].get("annotations") or {}
            return annotations.get(models.ANNOTATION_PROMOTE) == "2"

        wait_for(annotated, timeout=5)
        expect(web.locator(".pending")).to_contain_text("promote requested")

        # A refusal is shown with its reason.
        live.set_status(cluster, "api", phase="Succeeded", currentRevision=2, stableRevision=2)
        expect(page.locator(ROW.format("api"))).to_have_attribute("data-phase", "Succeeded")
        # Force the disabled button, as a stale page could: the API refuses with its reason.
        page.evaluate(
            "document.getElementById('release-shop.api')"
            ".querySelector('[data-action=abort]').disabled = false"
        )
        page.locator(ROW.format("api") + " button[data-action=abort]").click()
        expect(page.locator(ROW.format("api") + " output.result")).to_contain_text(
            "nothing is in flight to abort"
        )
