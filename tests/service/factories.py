"""Release objects and a fake cluster for the service's route tests."""

from __future__ import annotations

import copy
from typing import Any

from greenlight import models
from greenlight.kube import errors
from greenlight_api.kube.reviews import AccessReviewResult, TokenReviewResult, UserInfo


def release(
    name: str = "web",
    namespace: str = "shop",
    *,
    phase: str = "Succeeded",
    generation: int = 1,
    observed_generation: int | None = None,
    stable: int = 2,
    current: int | None = None,
    annotations: dict[str, str] | None = None,
    resource_version: str = "1",
    history: list[dict[str, Any]] | None = None,
    gates: list[dict[str, Any]] | None = None,
    auto_promote: bool = True,
) -> dict[str, Any]:
    current = stable if current is None else current
    if history is None:
        history = [
            {
                "revision": r,
                "images": [f"registry.example.com/web:1.{r}"],
                "color": c,
                "outcome": "Succeeded",
            }
            for r, c in ((stable, "blue"), (stable - 1, "green"))
            if r >= 1
        ]
    return {
        "apiVersion": models.API_VERSION,
        "kind": models.KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "generation": generation,
            "resourceVersion": resource_version,
            "uid": f"uid-{namespace}-{name}",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": name, "image": f"registry.example.com/web:1.{current}"}]
                },
            },
            "strategy": {"autoPromote": auto_promote},
            "gates": [{"name": "readyz", "http": {"path": "/readyz"}, "successThreshold": 3}],
        },
        "status": {
            "observedGeneration": generation
            if observed_generation is None
            else observed_generation,
            "phase": phase,
            "activeColor": "blue",
            "previewColor": "green",
            "stableRevision": stable,
            "currentRevision": current,
            "message": f"release {name} is {phase}",
            "gates": gates or [],
            "history": history,
        },
    }


class FakeCluster:
    """The `Cluster` protocol, in memory: Releases, tokens and rights set by the test."""

    def __init__(self, *bodies: dict[str, Any]) -> None:
        self.bodies = {
            (b["metadata"]["namespace"], b["metadata"]["name"]): copy.deepcopy(b) for b in bodies
        }
        self.tokens: dict[str, UserInfo] = {}
        self.rights: set[tuple[str, str, str]] = set()  # (user or group, verb, namespace)
        # Rules limited to some Releases (RBAC resourceNames): (user or group, verb, ns, name)
        self.named_rights: set[tuple[str, str, str, str]] = set()
        self.access_calls: list[tuple[str, str, str, str | None]] = []  # (user, verb, ns, name)
        self.patches: list[tuple[str, str, dict[str, str]]] = []
        self.token_reviews = 0
        self.access_reviews = 0
        self.failing: str | None = None  # a reason: every call fails with it
        self.release_error: Exception | None = None  # raised by get_release only

    def _check(self) -> None:
        if self.failing:
            raise errors.ApiError(self.failing)

    async def get_release(self, namespace: str, name: str) -> dict[str, Any]:
        self._check()
        if self.release_error is not None:
            raise self.release_error
        try:
            return copy.deepcopy(self.bodies[(namespace, name)])
        except KeyError:
            raise errors.NotFound(f'releases "{name}" not found') from None

    async def patch_annotations(
        self, namespace: str, name: str, annotations: dict[str, str]
    ) -> dict[str, Any]:
        body = await self.get_release(namespace, name)
        self.patches.append((namespace, name, annotations))
        self.bodies[(namespace, name)]["metadata"]["annotations"].update(annotations)
        return body

    async def review_token(self, token: str) -> TokenReviewResult:
        self._check()
        self.token_reviews += 1
        user = self.tokens.get(token)
        return TokenReviewResult(user=user, error="" if user else "invalid bearer token")

    async def review_access(
        self,
        user: UserInfo,
        *,
        verb: str,
        namespace: str,
        name: str | None = None,
        subresource: str = "",
    ) -> AccessReviewResult:
        self._check()
        if subresource:  # rights on a subresource are written "create/actions"
            verb = f"{verb}/{subresource}"
        self.access_reviews += 1
        self.access_calls.append((user.username, verb, namespace, name))
        for subject in (user.username, *user.groups):
            if {(subject, verb, namespace), (subject, verb, ""), (subject, "*", "")} & self.rights:
                return AccessReviewResult(allowed=True)
            if name is not None and (subject, verb, namespace, name) in self.named_rights:
                return AccessReviewResult(allowed=True)
        return AccessReviewResult(allowed=False, reason="no RBAC rule allows it")
