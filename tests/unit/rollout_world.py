"""A toy cluster for driving the pure rollout decision tick by tick, with invariant checks.

It applies the decision's actions the way the real adapters would (a Deployment per colour,
two Service selectors, EndpointSlices that follow the active selector after a lag) and lets a
scenario say when pods become ready and which gates pass. After every tick it checks the
contract's invariants and records violations instead of raising, so tests can assert on them.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable

from greenlight import models, user_actions
from greenlight.models import Color, Outcome, Phase
from greenlight.rollout import actions as act
from greenlight.rollout import events as recorded_events
from greenlight.rollout import gating, notifications
from greenlight.rollout.decide import decide, wants_endpoints
from greenlight.rollout.observation import (
    ColorState,
    Observation,
    ProbeResult,
    ServiceState,
    SpecProblem,
)

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

# (revision, role, gate name, tick) -> passes?
GateHealth = Callable[[int, act.ServiceRole, str, int], bool]


def template(image: str) -> dict[str, object]:
    return {
        "spec": {
            "containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8000}]}]
        }
    }


def spec_of(image: str = "app:1", **fields: object) -> models.ReleaseSpec:
    return models.ReleaseSpec.model_validate({"template": template(image), **fields})


@dataclasses.dataclass
class Deployment:
    revision: int
    replicas: int
    ready_at_tick: int


@dataclasses.dataclass
class World:
    spec: models.ReleaseSpec
    gate_health: GateHealth = lambda revision, role, gate, tick: True
    # How many ticks a Deployment needs to become ready; None: it never does.
    ready_after: Callable[[int], int | None] = lambda revision: 1
    endpoint_lag_ticks: int = 1
    tick_seconds: float = 1.0
    generation: int = 1
    tick: int = 0
    status: models.ReleaseStatus = dataclasses.field(default_factory=models.ReleaseStatus)
    deployments: dict[Color, Deployment] = dataclasses.field(default_factory=dict)
    active_selector: Color | None = None
    preview_selector: Color | None = None
    selector_history: list[tuple[int, Color | None]] = dataclasses.field(default_factory=list)
    stored: dict[int, str] = dataclasses.field(default_factory=dict)  # revision -> image
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    events: list[act.PostEvent] = dataclasses.field(default_factory=list)
    # Notifications handed to delivery, in order.
    sent: list[models.PendingNotification] = dataclasses.field(default_factory=list)
    violations: list[str] = dataclasses.field(default_factory=list)
    # Which way each decision moved the active Service, in order.
    switches: list[act.Switch] = dataclasses.field(default_factory=list)
    # consecutive pre-switch passes per (revision, gate), for invariant 2
    preswitch_streak: dict[tuple[int, str], int] = dataclasses.field(default_factory=dict)
    switched_at_tick: int | None = None
    # When set, every observation carries this problem, as an invalid spec would.
    spec_problem: SpecProblem | None = None
    # The first image ever stored under each revision: a revision's template never changes.
    first_stored: dict[int, str] = dataclasses.field(default_factory=dict)
    status_before: models.ReleaseStatus = dataclasses.field(default_factory=models.ReleaseStatus)
    ever_succeeded: bool = False

    @property
    def now(self) -> datetime.datetime:
        return START + datetime.timedelta(seconds=self.tick * self.tick_seconds)

    # -- the scenario's levers ---------------------------------------------------------

    def update_spec(self, spec: models.ReleaseSpec) -> None:
        self.spec = spec
        self.generation += 1

    def annotate(self, key: str, value: str = "true") -> None:
        self.annotations[key] = value

    # -- one tick ---------------------------------------------------------------------

    def color_state(self, color: Color) -> ColorState:
        deployment = self.deployments.get(color)
        if deployment is None:
            return ColorState()
        ready = self.tick >= deployment.ready_at_tick
        return ColorState(
            exists=True,
            revision=deployment.revision,
            replicas=deployment.replicas,
            ready_replicas=deployment.replicas if ready else 0,
            rolled_out=ready,
        )

    def endpoint_colors(self) -> frozenset[Color]:
        # The selector as it was `endpoint_lag_ticks` ago, like kube-proxy catching up.
        lagged: Color | None = None
        for tick, color in self.selector_history:
            if tick <= self.tick - self.endpoint_lag_ticks:
                lagged = color
        if lagged is None or not self.color_state(lagged).serving:
            return frozenset()
        return frozenset({lagged})

    def observe(self, probe_results: tuple[ProbeResult, ...]) -> Observation:
        spec_template = self.spec.template
        from greenlight import naming

        return Observation(
            now=self.now,
            generation=self.generation,
            template_hash=naming.template_hash(spec_template),
            images=naming.images_of(spec_template),
            colors={color: self.color_state(color) for color in Color},
            active_service=ServiceState(
                exists=self.active_selector is not None, selected_color=self.active_selector
            ),
            preview_service=ServiceState(
                exists=self.preview_selector is not None, selected_color=self.preview_selector
            ),
            # As the operator does: the slices are read only when a scale-down is due.
            active_endpoint_colors=(
                self.endpoint_colors() if wants_endpoints(self.status, self.now) else None
            ),
            # Read as the operator reads them: by the one policy of the action annotations.
            annotations=user_actions.read_actions(self.annotations),
            probe_results=probe_results,
            spec_problem=self.spec_problem,
            stored_revisions=frozenset(self.stored),
            subscriptions=tuple(self.spec.notifications),
        )

    def probe(self) -> tuple[ProbeResult, ...]:
        results = []
        for due in gating.due_probes(self.spec, self.status, self.now):
            color = (
                self.preview_selector
                if due.role is act.ServiceRole.PREVIEW
                else (self.active_selector)
            )
            revision = self.deployments[color].revision if color in self.deployments else 0
            ok = (
                revision > 0
                and self.color_state(color).serving
                and self.gate_health(revision, due.role, due.gate.name, self.tick)
            )
            if due.role is act.ServiceRole.PREVIEW:
                key = (revision, due.gate.name)
                self.preswitch_streak[key] = self.preswitch_streak.get(key, 0) + 1 if ok else 0
            results.append(
                ProbeResult(gate=due.gate.name, ok=ok, message="ok" if ok else "503", at=self.now)
            )
        return tuple(results)

    def step(self) -> None:
        decision = decide(self.spec, self.status, self.observe(self.probe()))
        self.status_before = self.status
        self.status = decision.status
        self.check_reasons(decision.actions, decision.switches)
        self.switches.extend(decision.switches)
        for action in decision.actions:
            if not isinstance(action, act.PostEvent):
                self.apply(action)
        # As the operator does: the Events status records are posted, then marked posted.
        posted = recorded_events.to_post(self.status)
        for event in posted:
            self.apply(event)
        self.status = recorded_events.mark_posted(self.status, [e.sequence for e in posted])
        # As the operator does: pending notifications are removed from status, then sent.
        self.sent.extend(self.status.pending_notifications)
        self.status = notifications.claimed(self.status)
        if self.status.phase is Phase.SUCCEEDED:
            self.ever_succeeded = True
        self.check_invariants()
        self.tick += 1

    def run(self, ticks: int, until: Callable[[World], bool] | None = None) -> None:
        for _ in range(ticks):
            self.step()
            if until is not None and until(self):
                return

    def run_until_phase(self, *phases: Phase, limit: int = 200) -> None:
        self.run(
            limit,
            until=lambda w: (
                w.status.phase in phases and w.generation == w.status.observed_generation
            ),
        )

    # -- the actions, as the adapters would do them ----------------------------------------

    def apply(self, action: act.Action) -> None:
        match action:
            case act.StoreRevision(revision=revision):
                image = self.spec.template["spec"]["containers"][0]["image"]
                first = self.first_stored.setdefault(revision, image)
                if first != image:
                    self.violations.append(
                        f"tick {self.tick}: revision {revision} re-stored as {image} ({first})"
                    )
                self.stored[revision] = image
            case act.DeployColor(color=color, revision=revision, replicas=replicas):
                if revision not in self.stored:
                    self.violations.append(
                        f"tick {self.tick}: deployed unstored revision {revision}"
                    )
                if color == self.active_selector or color in self.endpoint_colors():
                    # Replacing the pods of a colour that still takes traffic drops requests.
                    self.violations.append(
                        f"tick {self.tick}: redeployed {color} while it still takes traffic"
                    )
                delay = self.ready_after(revision)
                ready_at = self.tick + delay if delay is not None else 10**9
                self.deployments[color] = Deployment(revision, replicas, ready_at)
            case act.ScaleColor(color=color, replicas=replicas):
                if color in self.deployments:
                    if replicas == 0:
                        self.check_scale_down(color)
                    self.deployments[color].replicas = replicas
            case act.PointService(role=act.ServiceRole.ACTIVE, color=color):
                self.check_switch(color)
                self.active_selector = color
                self.selector_history.append((self.tick, color))
            case act.PointService(role=act.ServiceRole.PREVIEW, color=color):
                self.preview_selector = color
            case act.RemoveAnnotation(key=key):
                self.annotations.pop(key, None)
            case act.PruneRevisions(keep=keep):
                self.stored = {r: i for r, i in self.stored.items() if r in keep}
            case act.PostEvent():
                self.events.append(action)

    # -- invariants -------------------------------------------------------------------------

    def check_switch(self, color: Color) -> None:
        if color == self.active_selector:
            return
        revision = self.deployments[color].revision if color in self.deployments else 0
        # Judged against what was stable before this decision: a decision that calls a
        # revision stable as it switches to it must not excuse itself.
        before = self.status_before
        returning = revision == before.stable_revision and str(color) == before.stable_color
        # An instant rollback may skip the gates only to a revision that once passed them all.
        proven = any(
            e.revision == revision and e.outcome is Outcome.SUCCEEDED for e in before.history
        )
        if not returning and not proven:
            # A forward switch (to a revision not yet stable): invariant 2.
            for gate in self.spec.gates:
                if self.preswitch_streak.get((revision, gate.name), 0) < gate.success_threshold:
                    self.violations.append(
                        f"tick {self.tick}: switched to revision {revision} before gate "
                        f"{gate.name} passed"
                    )
        self.switched_at_tick = self.tick

    def check_scale_down(self, color: Color) -> None:
        if self.endpoint_colors() - {self.active_selector}:
            self.violations.append(
                f"tick {self.tick}: scaled down {color} while endpoints still list it"
            )
        if color == self.active_selector:
            self.violations.append(f"tick {self.tick}: scaled down the active colour")

    def check_invariants(self) -> None:
        if self.active_selector is not None and not self.color_state(self.active_selector).serving:
            self.violations.append(
                f"tick {self.tick}: active Service selects {self.active_selector}, "
                "which has no ready pods"
            )
        if self.ever_succeeded and self.active_selector is None:
            self.violations.append(f"tick {self.tick}: active Service selects nothing")
        if (
            self.status.active_color
            and self.active_selector
            and (self.status.active_color != self.active_selector)
        ):
            self.violations.append(
                f"tick {self.tick}: status says {self.status.active_color}, "
                f"Service selects {self.active_selector}"
            )

    def check_reasons(
        self, actions: tuple[act.Action, ...], switches: tuple[act.Switch, ...]
    ) -> None:
        """Every reason written is a member of its enum (not a string that looks like one),
        and the decision's switches are the ones its Events announce."""
        events = [action for action in actions if isinstance(action, act.PostEvent)]
        for event in events:
            if not isinstance(event.reason, models.EventReason):
                self.violations.append(f"tick {self.tick}: Event reason {event.reason!r}")
        for condition in self.status.conditions:
            if condition.reason not in set(models.ConditionReason):
                self.violations.append(
                    f"tick {self.tick}: {condition.type} reason {condition.reason!r}"
                )
        announced = [
            act.Switch.BACK
            if event.reason is models.EventReason.SWITCH_BACK
            else act.Switch.FORWARD
            for event in events
            if event.reason in (models.EventReason.SWITCH_SERVICE, models.EventReason.SWITCH_BACK)
        ]
        if announced != list(switches):
            self.violations.append(f"tick {self.tick}: switches {switches}, Events {announced}")

    def event_reasons(self) -> list[str]:
        return [event.reason for event in self.events]
