"""Reading a Release through the models, with one clear line when it cannot be read.

A Release written by a newer operator, or edited by hand, may carry a status this CLI does not
understand; that is reported as such rather than as a validation traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenlight import models
from greenlight.cli import output
from greenlight.cli.exits import CommandFailed, cluster_problem


def status_of(release: Mapping[str, Any]) -> models.ReleaseStatus:
    status, problem = models.read_status(release)
    if problem:
        raise _unreadable(release, problem)
    return status


def _unreadable(release: Mapping[str, Any], problem: str) -> CommandFailed:
    where = f"{output.namespace_of(release)}/{output.name_of(release)}"
    return cluster_problem(
        f"release {where} has a status this greenlight cannot read ({problem}); "
        "upgrade the CLI to the operator's version"
    )
