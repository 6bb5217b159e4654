"""Level-triggered upkeep after every decision: each colour runs what status says, the Services
select what status says (never a colour without ready pods), a colour no longer needed is scaled
down once drained (invariant 4), and stored revisions follow the history."""

from __future__ import annotations

from greenlight import models
from greenlight.models import IN_FLIGHT_PHASES as IN_FLIGHT
from greenlight.models import Color, ConditionReason, EventReason, WaitingReason
from greenlight.rollout import actions as act
from greenlight.rollout.draft import Draft
from greenlight.rollout.observation import Observation
from greenlight.rollout.transitions import wait


def keep_workloads(draft: Draft, spec: models.ReleaseSpec, obs: Observation) -> None:
    """Each colour runs what status says it runs, with the spec's replicas.

    The stable colour runs the stable revision; while a release is in flight, the preview
    colour runs the current one. A colour waiting for its scale-down is left alone.
    """
    if (
        draft.current_revision
        and draft.current_revision not in obs.stored_revisions
        and draft.status.current_template_hash == obs.template_hash
        and not any(isinstance(a, act.StoreRevision) for a in draft.actions)
    ):
        # A restart between deciding and storing the revision: store it now.
        draft.act(
            act.StoreRevision(revision=draft.current_revision, template_hash=obs.template_hash)
        )
    storable = set(obs.stored_revisions) | {
        a.revision for a in draft.actions if isinstance(a, act.StoreRevision)
    }
    wanted: dict[Color, int] = {}
    if draft.stable is not None and draft.stable_revision:
        wanted[draft.stable] = draft.stable_revision
    if draft.phase in IN_FLIGHT and draft.preview is not None and draft.current_revision:
        wanted[draft.preview] = draft.current_revision
    for color, revision in wanted.items():
        state = obs.colors.get(color)
        if state is None or not state.exists or state.revision != revision:
            # A colour whose Deployment is gone (deleted under us) has no pods left to
            # protect: it is created again at once, even while a Service still selects it.
            missing = state is None or not state.exists
            if revision in storable and (missing or not _may_carry_traffic(color, obs)):
                draft.act(act.DeployColor(color=color, revision=revision, replicas=spec.replicas))
            elif revision in storable:
                _wait_for_endpoints(draft, color, obs)
        elif state.replicas != spec.replicas:
            draft.act(act.ScaleColor(color=color, replicas=spec.replicas))


def _may_carry_traffic(color: Color, obs: Observation) -> bool:
    """Whether requests may still reach `color`'s pods: its pods are not replaced until not.

    A release superseded after its switch sends traffic back to stable first; the colour it
    leaves is redeployed only once the active Service no longer selects it and its
    EndpointSlices no longer list it (kube-proxy has caught up).
    """
    if obs.active_service.selected_color == color:
        return True
    if obs.active_endpoint_colors is None:
        # Not looked at this tick: a colour with ready pods might still be listed. The next
        # tick (Progressing) reads the slices and decides.
        state = obs.colors.get(color)
        return state is not None and state.serving
    return color in obs.active_endpoint_colors


def target_port_for(
    color: Color, spec: models.ReleaseSpec | None, obs: Observation
) -> int | str | None:
    """Where a Service selecting `color` sends traffic: `spec.service.targetPort` when set,
    else the port of the revision that colour runs (its first container's first port).

    Whatever moves traffic to a colour moves the port with it, so switching back to an older
    revision that listened elsewhere never sends requests to the newer revision's port.
    """
    if spec is not None and spec.service.target_port is not None:
        return spec.service.target_port
    state = obs.colors.get(color)
    return state.container_port if state is not None else None


def keep_traffic(draft: Draft, spec: models.ReleaseSpec | None, obs: Observation) -> None:
    """The Services select what status says, on that colour's port, and never a colour
    without ready pods."""
    active = draft.active
    if active is not None and not obs.active_service.foreign:
        port = target_port_for(active, spec, obs)
        if obs.active_service.selected_color != active or _port_differs(
            obs.active_service.target_port, port
        ):
            state = obs.colors.get(active)
            if state is not None and state.serving:
                draft.act(
                    act.PointService(role=act.ServiceRole.ACTIVE, color=active, target_port=port)
                )
    preview = draft.preview
    if preview is not None and not obs.preview_service.foreign:
        port = target_port_for(preview, spec, obs)
        if obs.preview_service.selected_color != preview or _port_differs(
            obs.preview_service.target_port, port
        ):
            draft.act(
                act.PointService(role=act.ServiceRole.PREVIEW, color=preview, target_port=port)
            )


def retire_services(draft: Draft, obs: Observation) -> None:
    """A Service the spec no longer names (`spec.service` renamed) keeps selecting the serving
    colour until the new active Service is seen to select it, and is then deleted: traffic
    through the old name never ends up on a colour being scaled down."""
    current = [name for name in obs.service_names if name]
    if not current:
        return
    new_serves = draft.active is None or (
        obs.active_service.selected_color == draft.active and active_serving(obs)
    )
    kept: list[str] = []
    for name in draft.status.service_names:
        if name in current or name in kept:
            continue
        state = obs.retired_services.get(name)
        if state is None or not state.exists or state.foreign:
            continue  # gone (or no longer ours): nothing left to remove
        kept.append(name)
        if new_serves:
            draft.act(act.RemoveService(name=name))
            draft.event(
                EventReason.SERVICE_REMOVED,
                f"Service {name} is no longer named by spec.service; deleted, now that "
                f"{obs.service_names[0]} serves",
            )
    draft.status.service_names = current + kept


def _port_differs(observed: int | str | None, wanted: int | str | None) -> bool:
    return wanted is not None and observed is not None and observed != wanted


def scale_down_when_drained(draft: Draft, obs: Observation) -> None:
    """Invariant 4: only after the delay, and once the active Service's slices list only the
    active colour's endpoints."""
    color = draft.status.scale_down_color
    if not color:
        return
    if color in (draft.active, draft.preview if draft.phase in IN_FLIGHT else None):
        draft.status.scale_down_color, draft.status.scale_down_after = "", None
        return
    after = draft.status.scale_down_after
    if after is not None and draft.now < after:
        until = models.format_time(after)
        wait(draft, WaitingReason.SCALE_DOWN_DELAY, f"{color} stays warm until {until}")
        return
    endpoints = obs.active_endpoint_colors
    if draft.active is not None and endpoints != frozenset({draft.active}):
        _wait_for_endpoints(draft, Color(color), obs)
        return
    draft.act(act.ScaleColor(color=Color(color), replicas=0))
    draft.event(EventReason.SCALED_DOWN, f"{color} scaled to zero")
    draft.status.scale_down_color, draft.status.scale_down_after = "", None


def _wait_for_endpoints(draft: Draft, color: Color, obs: Observation) -> None:
    """`color` waits until the active Service's EndpointSlices list only the active colour."""
    endpoints = obs.active_endpoint_colors
    if endpoints is None:
        seen = "the active Service's EndpointSlices are not read yet"
    elif endpoints - {draft.active}:
        seen = f"EndpointSlices still list {', '.join(sorted(endpoints - {draft.active}))}"
    else:
        seen = f"EndpointSlices list no ready endpoint of {draft.active} yet"
    if obs.active_service.selected_color == color:
        seen = f"traffic to move off {color}: the active Service was last seen selecting it"
    wait(draft, WaitingReason.ENDPOINTS, seen)


def prune_revisions(draft: Draft, obs: Observation) -> None:
    keep = {entry.revision for entry in draft.status.history}
    keep |= {draft.current_revision, draft.stable_revision}
    if obs.stored_revisions - keep:
        draft.act(act.PruneRevisions(keep=frozenset(keep)))


def active_serving(obs: Observation) -> bool:
    """Whether the active Service, as observed, selects a colour with ready pods."""
    selected = obs.active_service.selected_color
    state = obs.colors.get(selected) if selected is not None else None
    return state is not None and state.serving


def availability(obs: Observation) -> tuple[bool, ConditionReason, str]:
    """The `Available` condition as observed: whether, a reason, and a sentence saying why."""
    service = obs.active_service
    if not service.exists:
        return False, ConditionReason.ACTIVE_SERVICE_MISSING, "the active Service does not exist"
    selected = service.selected_color
    if selected is None:
        return False, ConditionReason.NO_SERVING_COLOR, "the active Service selects no colour"
    state = obs.colors.get(selected)
    if state is None or not state.exists:
        return (
            False,
            ConditionReason.ACTIVE_DEPLOYMENT_MISSING,
            f"the active Service selects {selected}, whose Deployment does not exist",
        )
    if not state.serving:
        return (
            False,
            ConditionReason.NO_READY_PODS,
            f"the active Service selects {selected}, without ready pods",
        )
    return True, ConditionReason.ACTIVE_COLOR_SERVING, "the active Service selects ready pods"


def report_drift(draft: Draft, status: models.ReleaseStatus, obs: Observation) -> None:
    """A Warning Event for what status says exists and is gone (deleted under the operator),
    on the tick that first sees it: `keep_workloads` and `keep_traffic` restore it.

    After a tick that acted (`actionsPending`), a missing object may be one that tick was
    creating, so only a confirmed state counts as drift.
    """
    if status.actions_pending:
        return
    # What status said before this tick: a colour this tick first switches to (a first
    # release) has no Service yet, and nothing was deleted.
    stable = _color_of(status.stable_color)
    state = obs.colors.get(stable) if stable is not None else None
    if (
        stable is not None
        and status.stable_revision
        and state is not None
        and not (state.exists or state.foreign)
    ):
        draft.event(
            EventReason.DEPLOYMENT_RESTORED,
            f"the Deployment of {stable}, which runs stable revision {status.stable_revision}, "
            "was deleted; it is created again from that revision's stored template",
            warning=True,
        )
    service = obs.active_service
    active = _color_of(status.active_color)
    if active is not None and draft.active is not None and not (service.exists or service.foreign):
        draft.event(
            EventReason.SERVICE_RESTORED,
            f"the active Service was deleted; it is created again, selecting {draft.active}",
            warning=True,
        )


def _color_of(value: str) -> Color | None:
    return Color(value) if value in (Color.BLUE, Color.GREEN) else None
