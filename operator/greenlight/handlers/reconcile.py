"""One tick of one Release: observe, probe the due gates, decide, write status, act.

This is the only place where the pure decision meets the cluster. It translates: the Release
body into a spec and a target, the cluster into an `Observation`, the decision into a status
write and adapter calls. The order is fixed and matters for restart safety: status is written
before the actions, so the cluster never runs ahead of what status records, and every action is
idempotent and re-derived from status on the next tick if it did not happen. Events come last:
the decision records them in status, and they are posted from there, then marked posted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar

from greenlight import metrics, models, naming, user_actions, validation
from greenlight.gates import base as gate_base
from greenlight.kube import errors as kube_errors
from greenlight.kube.gateway import ClusterGateway
from greenlight.kube.target import ReleaseTarget
from greenlight.notify.channels import ChannelSource
from greenlight.notify.delivery import Delivery, Notifier
from greenlight.rollout import actions as act
from greenlight.rollout import decide as rollout
from greenlight.rollout import events as recorded_events
from greenlight.rollout import gating
from greenlight.rollout import notifications as recorded_notifications
from greenlight.rollout.observation import Observation, ProbeResult, SpecProblem

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Runtime:
    """What every tick shares: the cluster facade, the gate transport, the worker threads."""

    gateway: ClusterGateway
    transport: gate_base.Transport
    executor: Executor
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    # The notification channels of the operator's Secret, and the queue that delivers.
    channels: ChannelSource = dataclasses.field(default_factory=lambda: ChannelSource(None))
    notifier: Notifier | None = None

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs a blocking client call on the shared worker threads, never on the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))


async def reconcile(
    *,
    body: Mapping[str, Any],
    runtime: Runtime,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> rollout.Decision:
    metadata = body["metadata"]
    raw_spec = dict(body.get("spec") or {})
    status, _ = models.read_status(body)  # one that does not parse counts as empty
    now = runtime.clock()
    channel_names: frozenset[str] | None = None
    if raw_spec.get("notifications"):
        # Read (and cached) only for Releases that subscribe; None while it cannot be read.
        channels = await runtime.blocking(runtime.channels.current)
        channel_names = None if channels is None else channels.names
    try:
        checked: validation.ValidSpec | SpecProblem = validation.validate_spec(
            raw_spec, name=str(metadata["name"]), channels=channel_names
        )
    except Exception as error:  # a shape no check foresaw must not crash-loop the Release
        checked = SpecProblem(field="spec", message=f"cannot be read: {error}")
    valid = checked if isinstance(checked, validation.ValidSpec) else None
    spec = valid.spec if valid else None
    problem = checked if isinstance(checked, SpecProblem) else None
    target = _target(metadata, raw_spec, checked)

    retired = [
        name
        for name in status.service_names
        if name not in (target.active_service, target.preview_service)
    ]
    view = await runtime.blocking(
        runtime.gateway.observe,
        target,
        want_endpoints=rollout.wants_endpoints(status, now),
        retired_services=retired,
    )
    probes = await _probe_due_gates(valid, status, target, runtime, now) if valid else ()
    annotations = metadata.get("annotations") or {}
    observation = Observation(
        now=now,
        release=target.name,
        generation=int(metadata.get("generation") or 0),
        template_hash=target.template_hash,
        images=naming.images_of(target.template),
        colors=view.colors,
        active_service=view.active_service,
        preview_service=view.preview_service,
        active_endpoint_colors=view.active_endpoint_colors,
        annotations=user_actions.read_actions(annotations),
        recheck=annotations.get(models.ANNOTATION_RECHECK),
        probe_results=probes,
        spec_problem=problem,
        stored_revisions=view.stored_revisions,
        service_names=(target.active_service, target.preview_service),
        retired_services=view.retired_services,
        subscriptions=validation.known_subscriptions(raw_spec, channel_names),
    )
    decision = rollout.decide(spec, status, observation)
    if decision.status != status:
        await _write_status(runtime, target, decision.status)
    # The status known to be stored: its pending Events are the ones to post.
    written = decision.status
    try:
        refused = await _act(runtime, target, decision.actions)
        if refused is not None:
            # Invalid in a way the schema could not see: an observation for the next decision,
            # which fails the release as an invalid spec naming the field (and the object). It
            # starts from the status just written, which counted this tick's probes and notes.
            observation = dataclasses.replace(
                observation,
                spec_problem=_problem_of(refused, target),
                probe_results=(),
                annotations=user_actions.ActionRequests(),
                recheck=None,
            )
            decision = rollout.decide(spec, decision.status, observation)
            await _write_status(runtime, target, decision.status)
            written = decision.status
            if (refused_again := await _act(runtime, target, decision.actions)) is not None:
                raise refused_again
    finally:
        # Invariant 7: the Events status records are posted even when an action failed (the
        # next tick re-derives the action, not the transition); what cannot be posted now
        # stays recorded for the next tick.
        await _post_events(written, target, runtime, logger)
        _report(status, decision, target, logger)
    return decision


async def _act(
    runtime: Runtime, target: ReleaseTarget, actions: tuple[act.Action, ...]
) -> kube_errors.TemplateRejected | kube_errors.ForeignObject | None:
    """Performs the changes in order; the API server refusing the Release's own content stops
    them and is returned. (Events are posted from status.)"""
    for action in actions:
        if isinstance(action, act.PostEvent):
            continue
        try:
            await runtime.blocking(runtime.gateway.apply, target, action)
        except (kube_errors.TemplateRejected, kube_errors.ForeignObject) as refused:
            return refused
    return None


async def _write_status(
    runtime: Runtime, target: ReleaseTarget, status: models.ReleaseStatus
) -> None:
    document = status.model_dump(by_alias=True, mode="json")
    await runtime.blocking(runtime.gateway.write_status, target, document)


async def _post_events(
    status: models.ReleaseStatus,
    target: ReleaseTarget,
    runtime: Runtime,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Posts the Events `status` records as pending, oldest first, then records them posted;
    the pending notifications are removed from status in the same write, then queued.

    Stops at the first that fails (the rest wait, in order, for the next tick). When recording
    them posted fails, the next tick posts them again under the same names: the API server
    refuses the duplicates, so each appears once.
    """
    posted: list[int] = []
    notifications = list(status.pending_notifications)
    for event in recorded_events.to_post(status):
        try:
            await runtime.blocking(runtime.gateway.apply, target, event)
        except Exception as error:  # an Event is not worth failing the tick for
            logger.warning(
                "could not post Event %s (kept for the next tick): %s", event.reason, error
            )
            break
        posted.append(event.sequence)
    if not posted and not notifications:
        return
    after = recorded_events.mark_posted(status, posted)
    # Notifications leave status before they are queued (at most once): a restart before
    # this write hands them over again, one after it never sends them twice.
    after = recorded_notifications.claimed(after)
    try:
        await _write_status(runtime, target, after)
    except Exception as error:
        logger.warning(
            "could not record Events as posted (they are posted again) and notifications as "
            "handed over (they are handed over by a later tick): %s",
            error,
        )
        return
    if runtime.notifier is None:
        return
    for notification in notifications:
        runtime.notifier.submit(
            Delivery(
                namespace=target.namespace,
                release=target.name,
                notification=notification,
                subject=target,
            )
        )


def _problem_of(
    error: kube_errors.TemplateRejected | kube_errors.ForeignObject, target: ReleaseTarget
) -> SpecProblem:
    if isinstance(error, kube_errors.TemplateRejected):
        return SpecProblem(
            field="spec.template", message=f"is refused by the API server: {error.reason}"
        )
    if error.kind == "Service":
        field = (
            "spec.service.name"
            if error.name == target.active_service
            else "spec.service.previewName"
        )
    else:
        field = "metadata.name"  # the Deployments' names derive from the Release's
    return SpecProblem(
        field=field,
        message=f"gives the name of {error.kind} {error.name}, which exists and is not owned by "
        "this Release (it is left untouched)",
        reason=models.ConditionReason.FOREIGN_OBJECT,
    )


def _target(
    metadata: Mapping[str, Any],
    raw_spec: dict[str, Any],
    checked: validation.ValidSpec | SpecProblem,
) -> ReleaseTarget:
    name = str(metadata["name"])
    if isinstance(checked, validation.ValidSpec):
        spec, target_port = checked.spec, checked.target_port
    else:
        # Enough to observe what exists; nothing is deployed for an invalid spec.
        spec = _lenient_spec(raw_spec)
        target_port = spec.service.target_port or 0
    return ReleaseTarget(
        namespace=str(metadata["namespace"]),
        name=name,
        uid=str(metadata.get("uid", "")),
        generation=int(metadata.get("generation") or 0),
        spec=spec,
        template=dict(raw_spec.get("template") or {}),
        active_service=naming.active_service_name(name, spec),
        preview_service=naming.preview_service_name(name, spec),
        service_port=spec.service.port,
        target_port=target_port,
    )


def _lenient_spec(raw_spec: dict[str, Any]) -> models.ReleaseSpec:
    """The spec's Service names if they parse, else every default."""
    try:
        service = models.ServiceSpec.model_validate(raw_spec.get("service") or {})
    except ValueError:
        service = models.ServiceSpec()
    return models.ReleaseSpec(template={}, service=service)


async def _probe_due_gates(
    valid: validation.ValidSpec,
    status: models.ReleaseStatus,
    target: ReleaseTarget,
    runtime: Runtime,
    now: datetime.datetime,
) -> tuple[ProbeResult, ...]:
    due = gating.due_probes(valid.spec, status, now)
    if not due:
        return ()
    gates = valid.gates(runtime.transport)  # built once for the tick, from the validated spec
    results = await asyncio.gather(*(_probe(gates[i.field], i, target, runtime) for i in due))
    return tuple(results)


async def _probe(
    gate: gate_base.Gate, item: gating.DueProbe, target: ReleaseTarget, runtime: Runtime
) -> ProbeResult:
    service = (
        target.preview_service if item.role is act.ServiceRole.PREVIEW else (target.active_service)
    )
    port = item.gate.http.port if item.gate.http and item.gate.http.port else target.service_port
    outcome = await gate.probe(
        gate_base.ProbeTarget(namespace=target.namespace, service=service, port=port)
    )
    metrics.gate_probed(gate.kind, ok=outcome.ok)
    return ProbeResult(
        gate=item.gate.name,
        ok=outcome.ok,
        message=outcome.message,
        at=runtime.clock(),
    )


def _report(
    before: models.ReleaseStatus,
    decision: rollout.Decision,
    target: ReleaseTarget,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    after = decision.status
    metrics.observe_phase(target.namespace, target.name, after.phase)
    for action in decision.actions:
        if isinstance(action, act.PostEvent):
            log = logger.warning if action.type is act.EventType.WARNING else logger.info
            log("%s/%s %s: %s", target.namespace, target.name, action.reason, action.message)
    for switch in decision.switches:
        metrics.switched(forward=switch is act.Switch.FORWARD)
        if switch is act.Switch.BACK:
            metrics.rolled_back()
    if after.phase is not before.phase and after.phase.is_terminal and after.release_started_at:
        seconds = (datetime.datetime.now(datetime.UTC) - after.release_started_at).total_seconds()
        metrics.release_finished(str(after.phase), seconds)
