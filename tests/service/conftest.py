"""Fixtures of the service's route tests: an app whose cache, cluster and authenticator are
replaced through FastAPI's dependency overrides."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette announces its move to httpx2 when only httpx is installed.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

from greenlight_api import auth, cache, records
from greenlight_api.api import deps
from greenlight_api.core.config import AuthMode, Settings
from greenlight_api.kube.reviews import UserInfo
from greenlight_api.main import create_app
from tests.service import factories


@dataclasses.dataclass
class Service:
    client: TestClient
    cluster: factories.FakeCluster
    cache: cache.ReleaseCache
    app: Any

    def put(self, *bodies: dict[str, Any]) -> None:
        """Make the cache hold exactly these Releases."""
        self.cluster.bodies = factories.FakeCluster(*bodies).bodies
        self.cache.replace(None, [records.from_body(b) for b in bodies])


ALICE = UserInfo(username="alice", groups=("devs",))
BOB = UserInfo(username="bob", groups=("viewers",))


@pytest.fixture
def make_service() -> Iterator[Callable[..., Service]]:
    clients: list[TestClient] = []

    def make(auth_mode: AuthMode = AuthMode.TOKENREVIEW, synced: bool = True) -> Service:
        settings = Settings(auth=auth_mode, auth_cache_seconds=60)
        app = create_app(settings, configure_logging=False)
        cluster = factories.FakeCluster()
        cluster.tokens = {"alice-token": ALICE, "bob-token": BOB}
        release_cache = cache.ReleaseCache(metrics=app.state.metrics)
        authenticator = auth.Authenticator(
            mode=auth_mode, cluster=cluster, cache_seconds=60, metrics=app.state.metrics
        )
        app.dependency_overrides[deps.get_cache] = lambda: release_cache
        app.dependency_overrides[deps.get_cluster] = lambda: cluster
        app.dependency_overrides[deps.get_authenticator] = lambda: authenticator
        client = TestClient(app, raise_server_exceptions=False)
        clients.append(client)
        service = Service(client=client, cluster=cluster, cache=release_cache, app=app)
        if synced:
            service.put()
        return service

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def service(make_service: Callable[..., Service]) -> Service:
    """Auth on; alice may read and act (`create releases/actions`) in `shop`, bob may only
    read there."""
    svc = make_service()
    svc.cluster.rights = {("devs", verb, "shop") for verb in ("get", "list", "create/actions")} | {
        ("viewers", verb, "shop") for verb in ("get", "list")
    }
    return svc


ALICE_AUTH = {"Authorization": "Bearer alice-token"}
BOB_AUTH = {"Authorization": "Bearer bob-token"}
