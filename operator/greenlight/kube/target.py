"""`ReleaseTarget`: one Release as the cluster adapters need it, resolved once per tick.

The handlers build it from the Release's body (names defaulted, target port resolved) so that
no adapter ever re-derives a name or reads the raw body. It holds values only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from greenlight import models, naming


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReleaseTarget:
    namespace: str
    name: str
    uid: str  # owned objects point at it; an object without it is foreign
    generation: int
    spec: models.ReleaseSpec
    template: dict[str, Any]  # spec.template exactly as stored, for hashing and storing
    active_service: str
    preview_service: str
    service_port: int
    target_port: int | str
    # Hashed once, when the target is resolved for the tick.
    template_hash: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "template_hash", naming.template_hash(self.template))
