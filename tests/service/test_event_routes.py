"""The event-stream routes, through the app: what a stream starts and ends with."""

from __future__ import annotations

from tests.service import factories
from tests.service.conftest import ALICE_AUTH, Service


def _events(text: str) -> list[tuple[str, str]]:
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], fields.get("data", "")))
    return found


def test_a_release_that_already_ended_gives_its_status_and_ends(service: Service) -> None:
    service.put(factories.release(phase="Succeeded"))
    response = service.client.get("/api/v1/namespaces/shop/releases/web/events", headers=ALICE_AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    events = _events(response.text)
    assert [kind for kind, _ in events] == ["status", "end"]
    assert '"phase":"Succeeded"' in events[0][1]
    assert events[1][1] == '{"reason":"ended","phase":"Succeeded"}'


def test_a_terminal_phase_of_an_older_generation_does_not_end_the_stream(
    service: Service,
) -> None:
    record = factories.release(phase="Succeeded", generation=2, observed_generation=1)
    service.put(record)
    service.app.state.lifecycle.stop_streams()  # so the open stream ends at once
    service.cache.end_subscriptions()
    response = service.client.get("/api/v1/namespaces/shop/releases/web/events", headers=ALICE_AUTH)
    kinds = [kind for kind, _ in _events(response.text)]
    assert kinds == ["status", "end"]
    assert '"reason":"shutdown"' in response.text


def test_events_of_a_missing_release_is_404(service: Service) -> None:
    response = service.client.get(
        "/api/v1/namespaces/shop/releases/nope/events", headers=ALICE_AUTH
    )
    assert response.status_code == 404


def test_events_need_a_token(service: Service) -> None:
    service.put(factories.release())
    assert service.client.get("/api/v1/namespaces/shop/releases/web/events").status_code == 401
    assert service.client.get("/api/v1/events").status_code == 401


def test_the_all_releases_stream_of_a_forbidden_namespace_is_403(service: Service) -> None:
    response = service.client.get("/api/v1/events?namespace=other", headers=ALICE_AUTH)
    assert response.status_code == 403
