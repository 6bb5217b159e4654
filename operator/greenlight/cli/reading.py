"""Reading a Release through the models, with one clear line when it cannot be read.

A Release written by a newer operator, or edited by hand, may carry a status this CLI does not
understand; that is reported as such rather than as a validation traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from greenlight import models
from greenlight.cli import output
from greenlight.cli.exits import CommandFailed, cluster_problem


def status_of(release: Mapping[str, Any]) -> models.ReleaseStatus:
    try:
        return models.ReleaseStatus.model_validate(release.get("status") or {})
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "status"
        raise _unreadable(release, f"status.{field}: {first['msg']}") from None


def _unreadable(release: Mapping[str, Any], problem: str) -> CommandFailed:
    where = f"{output.namespace_of(release)}/{output.name_of(release)}"
    return cluster_problem(
        f"release {where} has a status this greenlight cannot read ({problem}); "
        "upgrade the CLI to the operator's version"
    )
