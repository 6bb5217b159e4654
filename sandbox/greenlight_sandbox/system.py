"""The whole system running in the sandbox: cluster, operator and the released API service.

:func:`running_system` is what `make demo`, `make sandbox` and `make bench-switch` stand on:
the sandbox cluster, the real operator as a process, and the Release API and dashboard
released blue-green by that operator from the chart's own `Release` object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from greenlight_sandbox import apiservice
from greenlight_sandbox.cluster import Sandbox
from greenlight_sandbox.emulator import wait_for
from greenlight_sandbox.programs import operator_process
from greenlight_sandbox.receiver import KEY as RECEIVER_KEY
from greenlight_sandbox.receiver import Receiver

Obj = dict[str, Any]
API_VERSION = "greenlight.dev/v1alpha1"
PLURAL = "releases"


@dataclasses.dataclass
class RunningSystem:
    sandbox: Sandbox
    operator_log: pathlib.Path
    dashboard_url: str | None  # None when started without the API service
    notifications: Receiver  # what the operator's notifications channel received


def release_status(sandbox: Sandbox, namespace: str, name: str) -> Obj:
    body = sandbox.cluster.get(API_VERSION, PLURAL, namespace, name) or {}
    status: Obj = body.get("status") or {}
    generation = int((body.get("metadata") or {}).get("generation") or 0)
    status["_current"] = int(status.get("observedGeneration") or 0) >= generation > 0
    return status


def settled(
    sandbox: Sandbox, namespace: str, name: str, phases: tuple[str, ...]
) -> Callable[[], bool]:
    """A condition: the current spec reached one of ``phases`` and no scale-down is pending."""

    def done() -> bool:
        sandbox.check_vital()
        status = release_status(sandbox, namespace, name)
        return bool(
            status["_current"]
            and status.get("phase") in phases
            and not status.get("scaleDownColor")
        )

    return done


def wait_settled(
    sandbox: Sandbox, namespace: str, name: str, phases: tuple[str, ...], timeout: float
) -> Obj:
    try:
        wait_for(settled(sandbox, namespace, name, phases), timeout=timeout, interval=0.05)
    except TimeoutError:
        status = release_status(sandbox, namespace, name)
        raise TimeoutError(
            f"Release {namespace}/{name} did not settle in {phases} within {timeout:g} s: "
            f"phase {status.get('phase')!r}, message {status.get('message')!r}"
        ) from None
    return release_status(sandbox, namespace, name)


@dataclasses.dataclass(frozen=True)
class Step:
    started: float
    finished: float
    phase: str


FINAL_PHASES = ("Succeeded", "RolledBack", "Failed")


def release_and_settle(
    sandbox: Sandbox,
    release: Obj,
    timeout: float = 90.0,
    *,
    follow: Callable[[], object] | None = None,
) -> Step:
    """Apply ``release``; wait until it settles and the Service's proxy routes to the serving
    colour alone (what the propagation lag still sends elsewhere belongs to this step).

    ``follow`` runs once the release is applied (the demo follows it with `greenlight wait`).
    """
    metadata = release["metadata"]
    namespace, name = metadata["namespace"], metadata["name"]
    active = release["spec"].get("service", {}).get("name") or name
    started = time.monotonic()
    sandbox.apply(release)
    if follow is not None:
        follow()
    status = wait_settled(sandbox, namespace, name, FINAL_PHASES, timeout)
    wait_for(lambda: sandbox.routing_caught_up(namespace, active), timeout=30)
    return Step(started, time.monotonic(), str(status.get("phase")))


def wait_serving(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200: a Service's proxy has caught up with its endpoints.

    A Service's proxy follows its endpoints after the propagation lag, so a release that has
    just succeeded may not be reachable through it yet.
    """

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:  # refused, reset, or an HTTP error status
            return False

    wait_for(answers, timeout=timeout, interval=0.05, message=f"{url} did not answer 200")


NOTIFICATIONS_SECRET = "greenlight-notifications"
NOTIFICATIONS_CHANNEL = "sandbox-hook"


def say_notification(say: Callable[[str], None]) -> Callable[[dict[str, Any]], None]:
    def received(facts: dict[str, Any]) -> None:
        say(
            f"   notification to {NOTIFICATIONS_CHANNEL}: {facts.get('namespace')}/"
            f"{facts.get('release')} revision {facts.get('revision')} {facts.get('transition')}"
            f" ({facts.get('reason') or facts.get('phase')}), signature verified"
        )

    return received


def notification_channels(sandbox: Sandbox, receiver: Receiver) -> str:
    """The operator's notification Secret, one channel to ``receiver``; its `namespace/name`."""
    sandbox.ensure_namespace(apiservice.NAMESPACE)
    sandbox.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": NOTIFICATIONS_SECRET, "namespace": apiservice.NAMESPACE},
            "stringData": {NOTIFICATIONS_CHANNEL: receiver.url, "hmac-key": RECEIVER_KEY},
        }
    )
    return f"{apiservice.NAMESPACE}/{NOTIFICATIONS_SECRET}"


@contextlib.contextmanager
def running_system(
    workdir: pathlib.Path,
    *,
    propagation_lag_seconds: float = 1.0,
    with_api_service: bool = True,
    chart: pathlib.Path = pathlib.Path("charts/greenlight"),
    say: Callable[[str], None] = print,
) -> Iterator[RunningSystem]:
    """The sandbox, the operator and (unless told otherwise) the API service; the operator's
    notifications go to a local receiver, which prints them."""
    began = time.monotonic()
    with (
        Sandbox(workdir, propagation_lag_seconds=propagation_lag_seconds) as sandbox,
        Receiver(on_received=say_notification(say)) as receiver,
    ):
        say(
            f"sandbox ready in {sandbox.ready_seconds or 0:.2f} s: API server {sandbox.cluster.url}"
        )
        log = workdir / "operator.log"
        settings = {"GREENLIGHT_NOTIFICATIONS_SECRET": notification_channels(sandbox, receiver)}
        with operator_process(sandbox.kubeconfig_path, log, env=settings) as operator:
            sandbox.depends_on("operator", operator, log)
            say(f"operator started (log: {log})")
            dashboard_url = None
            if with_api_service:
                release = apiservice.render_api_release(chart)
                sandbox.apply(release)
                wait_settled(
                    sandbox, apiservice.NAMESPACE, apiservice.RELEASE_NAME, ("Succeeded",), 90
                )
                dashboard_url = sandbox.service_url(apiservice.NAMESPACE, apiservice.RELEASE_NAME)
                say(
                    f"API service released blue-green in {time.monotonic() - began:.1f} s; "
                    f"dashboard: {dashboard_url}/"
                )
            yield RunningSystem(sandbox, log, dashboard_url, receiver)
