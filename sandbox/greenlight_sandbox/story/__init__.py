"""The story `make demo` tells, as data: the sample app's Release and the revisions it goes through.

Each revision is the same Release with another image tag and `APP_VERSION`, and at most one
misbehaviour switched on through the pod template's environment (the sample app reads it), so
the very same objects would behave the same way on a real cluster.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.resources
from typing import Any

import yaml

Obj = dict[str, Any]
NAMESPACE = "demo"
RELEASE = "shop"


@dataclasses.dataclass(frozen=True)
class Revision:
    version: str
    title: str  # what the step shows, as the demo announces it
    env: tuple[tuple[str, str], ...] = ()  # the misbehaviour switched on, if any
    expected_phase: str = "Succeeded"


FIRST = Revision("1.0.0", "first release of shop 1.0.0")
SWITCH = Revision("2.0.0", "update to 2.0.0: gated, switched under load, no request lost")
GATED_OUT = Revision(
    "3.0.0",
    "update to 3.0.0, never ready: its gates fail before the switch, it never gets traffic",
    env=(("SAMPLE_NEVER_READY", "true"),),
    expected_phase="RolledBack",
)
FAILS_AFTER_SWITCH = Revision(
    "4.0.0",
    "update to 4.0.0, failing 8 s after start: switched, then switched back by itself",
    env=(("SAMPLE_FAIL_AFTER_SECONDS", "8"),),
    expected_phase="RolledBack",
)
STORY = (FIRST, SWITCH, GATED_OUT, FAILS_AFTER_SWITCH)


def _resource(name: str) -> str:
    return importlib.resources.files(__package__).joinpath(name).read_text()


def shop_release() -> Obj:
    """The sample app's Release as `story/shop.yaml` declares it (revision 1.0.0)."""
    release: Obj = yaml.safe_load(_resource("shop.yaml"))
    return release


def api_values_text() -> str:
    """The chart values that release the API service in the sandbox."""
    return _resource("api-values.yaml")


def with_revision(release: Obj, revision: Revision) -> Obj:
    """A copy of ``release`` running ``revision``: image tag, APP_VERSION and misbehaviour."""
    result = copy.deepcopy(release)
    container = result["spec"]["template"]["spec"]["containers"][0]
    repository = container["image"].rsplit(":", 1)[0]
    container["image"] = f"{repository}:{revision.version}"
    wanted = {"APP_VERSION": revision.version, **dict(revision.env)}
    env = [var for var in container.get("env") or [] if var["name"] not in wanted]
    env.extend({"name": name, "value": value} for name, value in wanted.items())
    container["env"] = env
    return result


def subscribed(release: Obj, channel: str) -> Obj:
    """A copy of ``release`` that sends every transition to the notification ``channel``."""
    result = copy.deepcopy(release)
    result["spec"]["notifications"] = [{"channel": channel}]
    return result
