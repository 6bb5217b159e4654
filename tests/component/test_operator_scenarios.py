"""The real operator, end to end, against the emulated API server and fake controllers.

Each scenario applies Release objects over HTTP as `kubectl apply` would, lets the fake
Deployment and EndpointSlice controllers react, answers gates through the API server's service
proxy, and waits for the status the user would see. After each scenario the invariant checker
walks the active Service's whole history (invariant 1 of the contract).
"""

from __future__ import annotations

import collections
import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest

from greenlight import models, user_actions
from greenlight.models import Outcome, Phase
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from greenlight_sandbox.emulator.controllers import FakeControllers
from tests.component.harness import (
    CRD_PATH,
    NAMESPACE,
    FakeApps,
    RunningOperator,
    assert_invariants_for_every_release,
    assert_traffic_invariant,
    release,
    set_image,
    status_of,
)

GATES = [
    {
        "name": "readyz",
        "http": {"path": "/readyz"},
        "intervalSeconds": 1,
        "successThreshold": 2,
        "failureThreshold": 2,
    }
]
VERIFY = {
    "durationSeconds": 1,
    "gates": [
        {"name": "smoke", "http": {"path": "/healthz"}, "intervalSeconds": 1, "failureThreshold": 1}
    ],
}
FAST = {"scaleDownDelaySeconds": 0, "progressDeadlineSeconds": 30}


@pytest.fixture()
def cluster(kube_cluster: EmulatedCluster) -> Iterator[EmulatedCluster]:
    kube_cluster.apply_crd(CRD_PATH)
    kube_cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    yield kube_cluster
    # After every scenario: invariant 1 over the whole history of every active Service.
    assert_invariants_for_every_release(kube_cluster)


@pytest.fixture()
def apps(cluster: EmulatedCluster) -> FakeApps:
    return FakeApps(cluster)


@pytest.fixture()
def controllers(cluster: EmulatedCluster) -> Iterator[FakeControllers]:
    fakes = FakeControllers(cluster)
    fakes.run_in_background(auto_ready=True, auto_endpoints=True)
    yield fakes
    fakes.stop()


def wait_phase(
    cluster: EmulatedCluster,
    *phases: Phase,
    name: str = "web",
    generation: int | None = None,
    timeout: float = 20,
) -> models.ReleaseStatus:
    def reached() -> models.ReleaseStatus | None:
        body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, name) or {}
        status = models.ReleaseStatus.model_validate(body.get("status") or {})
        wanted = generation or body.get("metadata", {}).get("generation")
        if status.phase in phases and status.observed_generation == wanted:
            return status
        return None

    result = wait_for(reached, timeout=timeout)
    assert result is not None
    return result


def update(cluster: EmulatedCluster, patch: dict[str, Any], name: str = "web") -> None:
    cluster.patch(models.API_VERSION, models.PLURAL, NAMESPACE, name, {"spec": patch})


def annotate(cluster: EmulatedCluster, key: str, value: str, name: str = "web") -> None:
    cluster.patch(
        models.API_VERSION,
        models.PLURAL,
        NAMESPACE,
        name,
        {"metadata": {"annotations": {key: value}}},
    )


def selector_color(cluster: EmulatedCluster, service: str = "web") -> str | None:
    svc = cluster.get("v1", "services", NAMESPACE, service)
    return None if svc is None else (svc["spec"].get("selector") or {}).get(models.LABEL_COLOR)


def events(cluster: EmulatedCluster, name: str = "web") -> list[str]:
    return [
        e.get("reason", "")
        for e in cluster.list("v1", "events", NAMESPACE)
        if e.get("involvedObject", {}).get("name") == name
    ]


def smoke_verification(duration_seconds: int) -> dict[str, Any]:
    """A post-switch window of ``duration_seconds`` probing /healthz each second."""
    return {
        "durationSeconds": duration_seconds,
        "gates": [
            {
                "name": "smoke",
                "http": {"path": "/healthz"},
                "intervalSeconds": 1,
                "failureThreshold": 3,
            }
        ],
    }


def test_first_release_then_switch(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(gates=GATES, strategy=FAST))
        status = wait_phase(cluster, Phase.SUCCEEDED)
        assert (status.active_color, status.stable_revision) == ("blue", 1)
        assert wait_for(lambda: selector_color(cluster) == "blue")
        deployment = cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue")
        assert deployment is not None
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"][models.LABEL_REVISION] == "1"
        env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
        assert env == {"GREENLIGHT_COLOR": "blue", "GREENLIGHT_REVISION": "1"}

        set_image(cluster, "web:2")
        status = wait_phase(cluster, Phase.SUCCEEDED, generation=2)
        assert (status.active_color, status.stable_revision) == ("green", 2)
        assert wait_for(lambda: selector_color(cluster) == "green")
        assert wait_for(lambda: selector_color(cluster, "web-preview") == "green")
        wait_for(
            lambda: (
                (cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue") or {})
                .get("spec", {})
                .get("replicas")
                == 0
            ),
            timeout=10,
        )
        assert wait_for(
            lambda: {"SwitchService", "ScaledDown", "Succeeded"} <= set(events(cluster))
        )
        assert any(image == "web:2" and path == "/readyz" for _, image, path in apps.probes)
    assert_traffic_invariant(cluster)


def test_pre_switch_gate_failure_keeps_stable(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(gates=GATES, strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        apps.unhealthy_images.add("web:2")
        set_image(cluster, "web:2")
        status = wait_phase(cluster, Phase.ROLLED_BACK, generation=2)
        assert wait_for(lambda: selector_color(cluster) == "blue")
        assert "readyz" in status.message
        assert status.history[0].outcome is Outcome.ROLLED_BACK
    assert_traffic_invariant(cluster)


def test_never_ready_hits_the_deadline(cluster: EmulatedCluster, apps: FakeApps) -> None:
    fakes = FakeControllers(cluster)
    with RunningOperator(cluster):
        cluster.create(release(strategy={"progressDeadlineSeconds": 1}))
        wait_for(lambda: cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue"))
        status = wait_phase(cluster, Phase.FAILED)
        assert "did not become ready within 1s" in status.message
        assert selector_color(cluster) is None
        assert fakes is not None


def test_post_switch_failure_moves_traffic_back(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(verification=VERIFY, strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        set_image(cluster, "web:2")
        wait_phase(cluster, Phase.POST_VERIFICATION, generation=2)
        apps.unhealthy_images.add("web:2")
        status = wait_phase(cluster, Phase.ROLLED_BACK, generation=2)
        assert wait_for(lambda: selector_color(cluster) == "blue")
        assert status.active_color == "blue"
        assert wait_for(lambda: "SwitchBack" in events(cluster))
    assert_traffic_invariant(cluster)


def test_manual_promotion(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(strategy={**FAST, "autoPromote": False}))
        wait_phase(cluster, Phase.AWAITING_PROMOTION)
        assert selector_color(cluster) is None
        annotate(cluster, models.ANNOTATION_PROMOTE, "true")
        wait_phase(cluster, Phase.SUCCEEDED)
        body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, "web") or {}
        wait_for(
            lambda: (
                models.ANNOTATION_PROMOTE
                not in (
                    (cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, "web") or {})
                    .get("metadata", {})
                    .get("annotations")
                    or {}
                )
            )
        )
        assert body["status"]["activeColor"] == "blue"
    assert_traffic_invariant(cluster)


def test_abort_and_rollback_to(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(strategy={**FAST, "scaleDownDelaySeconds": 300}))
        wait_phase(cluster, Phase.SUCCEEDED)
        set_image(cluster, "web:2")
        wait_phase(cluster, Phase.SUCCEEDED, generation=2)
        annotate(cluster, models.ANNOTATION_ROLLBACK_TO, "1")
        status = wait_for(lambda: (s := status_of(cluster)).stable_revision == 1 and s)
        assert status and status.active_color == "blue"
        assert wait_for(lambda: selector_color(cluster) == "blue")

        update(cluster, {"strategy": {**FAST, "autoPromote": False}})
        set_image(cluster, "web:3")
        wait_phase(cluster, Phase.AWAITING_PROMOTION, generation=4)
        annotate(cluster, models.ANNOTATION_ABORT, "true")
        status = wait_phase(cluster, Phase.ABORTED, generation=4)
        assert wait_for(lambda: selector_color(cluster) == "blue")
        assert status.history[0].outcome is Outcome.ABORTED
    assert_traffic_invariant(cluster)


def test_superseding_spec(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(gates=GATES, strategy={**FAST, "autoPromote": False}))
        wait_phase(cluster, Phase.AWAITING_PROMOTION)
        annotate(cluster, models.ANNOTATION_PROMOTE, "true")
        wait_phase(cluster, Phase.SUCCEEDED)
        set_image(cluster, "web:2")
        wait_phase(cluster, Phase.AWAITING_PROMOTION, generation=2)
        set_image(cluster, "web:3")
        status = wait_phase(cluster, Phase.AWAITING_PROMOTION, generation=3)
        assert status.current_revision == 3
        assert {e.revision: e.outcome for e in status.history}[2] is Outcome.SUPERSEDED
        assert wait_for(lambda: selector_color(cluster) == "blue")
    assert_traffic_invariant(cluster)


def test_invalid_spec_names_the_field(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(name="broken", gates=[{"name": "tcp-check", "tcp": {"port": 1}}]))
        cluster.create(release(name="fine", strategy=FAST))
        status = wait_phase(cluster, Phase.FAILED, name="broken")
        assert "spec.gates[0]" in status.message
        invalid = {c.type: c for c in status.conditions}["InvalidSpec"]
        assert invalid.status == "True" and "spec.gates[0]" in invalid.message
        assert wait_for(lambda: "InvalidSpec" in events(cluster, "broken"))
        wait_phase(cluster, Phase.SUCCEEDED, name="fine")
        assert cluster.get("apps/v1", "deployments", NAMESPACE, "broken-blue") is None


def test_foreign_service_is_never_taken_over(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {"selector": {"app": "other"}, "ports": [{"port": 80}]},
        }
    )
    with RunningOperator(cluster):
        cluster.create(release(strategy=FAST))
        status = wait_phase(cluster, Phase.FAILED)
        assert "spec.service.name" in status.message
    svc = cluster.get("v1", "services", NAMESPACE, "web")
    assert svc is not None and svc["spec"]["selector"] == {"app": "other"}


def test_restart_mid_release_continues(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    slow = [{**GATES[0], "successThreshold": 3}]
    with RunningOperator(cluster):
        cluster.create(release(gates=slow, strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        set_image(cluster, "web:2")
        wait_for(
            lambda: (
                (s := status_of(cluster)).current_revision == 2
                and s.phase is Phase.VERIFYING
                and s.gates[0].successes >= 1
            )
        )
    stopped = status_of(cluster)
    assert stopped.phase is Phase.VERIFYING
    probes_before = len(apps.probes)
    with RunningOperator(cluster):
        status = wait_phase(cluster, Phase.SUCCEEDED, generation=2)
    assert status.stable_revision == 2
    # The gate needed 3 passes: the ones made after the restart are real probes, at most the
    # remainder, and never fewer (no result invented).
    made_after = len(apps.probes) - probes_before
    assert 1 <= made_after <= 3 - stopped.gates[0].successes + 1
    assert wait_for(lambda: events(cluster).count("SwitchService") == 2)
    assert_traffic_invariant(cluster)


def test_transient_api_errors_are_retried(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.inject_errors(method="POST", path_regex=r"/deployments$", status=500, count=2)
        cluster.inject_errors(
            method="PATCH", path_regex=r"/releases/web/status$", status=429, count=2, retry_after=0
        )
        cluster.inject_errors(method="PATCH", path_regex=r"/services/web$", status=503, count=1)
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        set_image(cluster, "web:2")
        wait_phase(cluster, Phase.SUCCEEDED, generation=2)
    statuses = [r.status for r in cluster.requests]
    assert statuses.count(500) == 2 and statuses.count(429) == 2 and statuses.count(503) >= 1
    assert_traffic_invariant(cluster)


def test_deletion_removes_everything_owned(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        cluster.delete(models.API_VERSION, models.PLURAL, NAMESPACE, "web")
        wait_for(lambda: cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, "web") is None)
        wait_for(lambda: cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue") is None)
        assert cluster.get("v1", "services", NAMESPACE, "broken") is None


def test_spec_change_while_the_last_tick_still_acts(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """The status write that ends a release stops the timer while the tick still acts; a new
    spec arriving in that window must still be released (Kopf spawns no second timer)."""
    with RunningOperator(cluster):
        # The first release's last tick writes Succeeded (nothing left to scale down, so the
        # filter stops matching), then creates the active Service: slowly.
        cluster.inject_timeout(method="POST", path_regex=r"/services$", seconds=1.5, count=2)
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        set_image(cluster, "web:2")
        status = wait_phase(cluster, Phase.SUCCEEDED, generation=2)
        assert status.stable_revision == 2
    assert_traffic_invariant(cluster)


def test_switch_failing_after_the_status_write_is_completed_later(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """The tick that decides the switch then fails to create the active Service (an outage past
    the client's retries): the Release keeps ticking until the Service exists, and does not say
    Succeeded before it does."""
    with RunningOperator(cluster):
        cluster.create(release(gates=GATES, strategy=FAST))
        wait_phase(cluster, Phase.VERIFYING)
        cluster.inject_errors(method="POST", path_regex=r"/services$", status=500, count=10_000)
        status = wait_phase(cluster, Phase.POST_VERIFICATION)
        assert status.active_color == "blue" and status.actions_pending
        assert selector_color(cluster) is None
        assert status_of(cluster).phase is Phase.POST_VERIFICATION
        cluster.clear_faults()
        assert wait_for(lambda: selector_color(cluster) == "blue", timeout=10)
        wait_phase(cluster, Phase.SUCCEEDED)
        assert wait_for(lambda: not status_of(cluster).actions_pending, timeout=10)
    assert_never_succeeded_before_the_service(cluster)


def assert_never_succeeded_before_the_service(cluster: EmulatedCluster, name: str = "web") -> None:
    """No stored status said Succeeded before the active Service selected its active colour."""
    releases = cluster.history(models.API_VERSION, models.PLURAL, NAMESPACE, name)
    services = cluster.history("v1", "services", NAMESPACE, name)
    for version in releases:
        status = version.get("status") or {}
        if status.get("phase") != Phase.SUCCEEDED:
            continue
        rv = int(version["metadata"]["resourceVersion"])
        selecting = [
            s
            for s in services
            if int(s["metadata"]["resourceVersion"]) < rv
            and (s["spec"].get("selector") or {}).get(models.LABEL_COLOR) == status["activeColor"]
        ]
        assert selecting, f"rv {rv}: Succeeded before the active Service selected the colour"


def test_turning_auto_promote_on_while_awaiting_promotion_promotes(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(gates=GATES, strategy={**FAST, "autoPromote": False}))
        wait_phase(cluster, Phase.AWAITING_PROMOTION)
        update(cluster, {"strategy": {**FAST, "autoPromote": True}})
        status = wait_phase(cluster, Phase.SUCCEEDED, generation=2)
        assert (status.active_color, status.stable_revision) == ("blue", 1)
        assert wait_for(lambda: selector_color(cluster) == "blue")
    assert_never_succeeded_before_the_service(cluster)
    assert_traffic_invariant(cluster)


def test_a_foreign_service_named_later_fails_the_release_with_its_events(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "other", "namespace": NAMESPACE},
            "spec": {"selector": {"app": "other"}, "ports": [{"port": 80}]},
        }
    )
    with RunningOperator(cluster):
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        update(cluster, {"service": {"name": "other"}})
        status = wait_phase(cluster, Phase.FAILED, generation=2)
        assert "spec.service.name" in status.message
        assert wait_for(lambda: {"InvalidSpec", "Failed"} <= set(events(cluster)))
    svc = cluster.get("v1", "services", NAMESPACE, "other")
    assert svc is not None and svc["spec"]["selector"] == {"app": "other"}


def test_malformed_ports_give_invalid_spec_not_a_crash_loop(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        broken = release(name="broken", strategy=FAST)
        broken["spec"]["template"]["spec"]["containers"][0]["ports"] = 8000  # a common slip
        cluster.create(broken)
        cluster.create(release(name="fine", strategy=FAST))
        status = wait_phase(cluster, Phase.FAILED, name="broken")
        assert "spec.service.targetPort" in status.message
        wait_phase(cluster, Phase.SUCCEEDED, name="fine")


@pytest.mark.parametrize(
    ("pod", "field"),
    [
        ({}, "spec.template.spec.containers"),
        ({"containers": []}, "spec.template.spec.containers"),
        ({"containers": [{"name": "web"}]}, "spec.template.spec.containers[0].image"),
        (
            {"containers": [{"name": "a", "image": "i"}, {"name": "a", "image": "j"}]},
            "spec.template.spec.containers[1].name",
        ),
        (
            {"containers": [{"name": "a", "image": "i", "ports": [{"containerPort": 70000}]}]},
            "spec.template.spec.containers[0].ports[0].containerPort",
        ),
    ],
    ids=["no-containers", "empty-containers", "no-image", "duplicate-name", "port-out-of-range"],
)
def test_a_pod_template_the_deployment_api_would_refuse_is_an_invalid_spec(
    cluster: EmulatedCluster,
    apps: FakeApps,
    controllers: FakeControllers,
    pod: dict[str, Any],
    field: str,
) -> None:
    """Where the CRD's schema was bypassed (an older CRD), the operator refuses the template
    itself, naming the field, and creates nothing."""
    with RunningOperator(cluster):
        # A target port, so that only the pod template is wrong.
        broken = release(name="broken", strategy=FAST, service={"targetPort": 8080})
        broken["spec"]["template"]["spec"] = pod
        cluster.create(broken)
        status = wait_phase(cluster, Phase.FAILED, name="broken")
        assert status.message.startswith(f"invalid spec: {field} "), status.message
        invalid = {c.type: c for c in status.conditions}["InvalidSpec"]
        assert invalid.status == "True"
    assert cluster.get("apps/v1", "deployments", NAMESPACE, "broken-blue") is None
    assert cluster.get("v1", "services", NAMESPACE, "web") is None


def test_a_template_the_api_server_refuses_fails_as_an_invalid_spec(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """Invalid in a way the schema cannot see (the API server refuses the Deployment): the
    release fails at once naming spec.template, not at its progress deadline; a later change
    releases again."""
    with RunningOperator(cluster):
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        cluster.inject_errors(
            method="PATCH", path_regex=r"/deployments/web-green$", status=422, count=10_000
        )
        cluster.inject_errors(method="POST", path_regex=r"/deployments$", status=422, count=10_000)
        set_image(cluster, "web:2")
        status = wait_phase(cluster, Phase.ROLLED_BACK, Phase.FAILED, generation=2)
        assert status.phase is Phase.FAILED
        assert "spec.template is refused by the API server" in status.message
        invalid = {c.type: c for c in status.conditions}["InvalidSpec"]
        assert invalid.status == "True"
        assert wait_for(lambda: selector_color(cluster) == "blue")
        cluster.clear_faults()
        update(cluster, {"replicas": 3})
        status = wait_phase(cluster, Phase.SUCCEEDED, generation=3)
        assert (status.stable_revision, status.active_color) == (2, "green")


def _shift_status_back(cluster: EmulatedCluster, seconds: float, name: str = "web") -> None:
    """Moves every stored timestamp of the release in flight `seconds` into the past: the same,
    to the operator, as having been stopped that much longer."""
    body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, name) or {}
    status = dict(body["status"])

    def back(value: str | None) -> str | None:
        if not value:
            return value
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment - datetime.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    for key in ("switchedAt", "verificationStartedAt", "phaseStartedAt", "releaseStartedAt"):
        if key in status:
            status[key] = back(status[key])
    status["gates"] = [
        {**g, "lastProbeTime": back(g.get("lastProbeTime"))} for g in status["gates"]
    ]
    cluster.patch(
        models.API_VERSION, models.PLURAL, NAMESPACE, name, {"status": status}, subresource="status"
    )


def test_a_verification_window_nobody_watched_does_not_pass(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """Stopped in PostVerification after its gate had passed, restarted after the window had
    elapsed: the unwatched window counts for nothing, and the failing revision is rolled back."""
    verify = smoke_verification(duration_seconds=3)
    with RunningOperator(cluster):
        cluster.create(release(verification=verify, strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        set_image(cluster, "web:2")
        assert wait_for(
            lambda: (
                (s := status_of(cluster)).phase is Phase.POST_VERIFICATION
                and s.current_revision == 2
                and s.gates[0].phase is models.GatePhase.PASSED
            )
        )
    apps.unhealthy_images.add("web:2")
    _shift_status_back(cluster, 60)
    with RunningOperator(cluster):
        status = wait_phase(cluster, Phase.ROLLED_BACK, Phase.SUCCEEDED, generation=2)
        assert status.phase is Phase.ROLLED_BACK, status.message
        assert status.stable_revision == 1
        assert wait_for(lambda: selector_color(cluster) == "blue")
    blue = cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue") or {}
    assert blue["spec"]["replicas"] == 2
    assert_traffic_invariant(cluster)


def _set_port(cluster: EmulatedCluster, image: str, port: int, name: str = "web") -> None:
    """A new revision whose container listens on another port (the Services' targetPort)."""
    body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, name)
    assert body is not None
    template = body["spec"]["template"]
    container = template["spec"]["containers"][0]
    container["image"], container["ports"] = image, [{"containerPort": port}]
    cluster.patch(
        models.API_VERSION, models.PLURAL, NAMESPACE, name, {"spec": {"template": template}}
    )


def service_target(cluster: EmulatedCluster, service: str = "web") -> tuple[str | None, Any]:
    """The colour the Service selects and its targetPort, as written together."""
    svc = cluster.get("v1", "services", NAMESPACE, service) or {"spec": {}}
    color = (svc["spec"].get("selector") or {}).get(models.LABEL_COLOR)
    ports = svc["spec"].get("ports") or [{}]
    return color, ports[0].get("targetPort")


def assert_ports_follow_colours(cluster: EmulatedCluster, ports: dict[str, int]) -> None:
    """Every stored version of the active Service sends traffic to the port of the colour it
    selects (a selector and its port never disagree, not even for one write)."""
    for version in cluster.history("v1", "services", NAMESPACE, "web"):
        color = (version["spec"].get("selector") or {}).get(models.LABEL_COLOR)
        assert version["spec"]["ports"][0]["targetPort"] == ports[color], version["spec"]


def test_switching_back_restores_the_stable_port(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(verification=VERIFY, strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        assert wait_for(lambda: service_target(cluster) == ("blue", 8000))
        _set_port(cluster, "web:2", 9000)
        wait_phase(cluster, Phase.POST_VERIFICATION, generation=2)
        assert wait_for(lambda: service_target(cluster) == ("green", 9000))
        apps.unhealthy_images.add("web:2")
        wait_phase(cluster, Phase.ROLLED_BACK, generation=2)
        assert wait_for(lambda: service_target(cluster) == ("blue", 8000))
    assert_ports_follow_colours(cluster, {"blue": 8000, "green": 9000})
    assert_traffic_invariant(cluster)


def test_rollback_to_a_warm_revision_restores_its_port(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(strategy={**FAST, "scaleDownDelaySeconds": 300}))
        wait_phase(cluster, Phase.SUCCEEDED)
        _set_port(cluster, "web:2", 9000)
        wait_phase(cluster, Phase.SUCCEEDED, generation=2)
        assert wait_for(lambda: service_target(cluster) == ("green", 9000))
        annotate(cluster, models.ANNOTATION_ROLLBACK_TO, "1")
        assert wait_for(lambda: status_of(cluster).stable_revision == 1)
        assert wait_for(lambda: service_target(cluster) == ("blue", 8000))
        assert wait_for(lambda: service_target(cluster, "web-preview") == ("blue", 8000))
    assert_ports_follow_colours(cluster, {"blue": 8000, "green": 9000})
    assert_traffic_invariant(cluster)


def test_a_release_name_too_long_for_its_derived_names_fails_naming_the_field(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """`<name>-preview` must be a valid Service name (63 characters at most); the emulated API
    server does not enforce the CRD's rule, so the operator must refuse it itself."""
    long_name = "a" * 56
    with RunningOperator(cluster):
        cluster.create(release(name=long_name, strategy=FAST))
        cluster.create(release(name="fine", strategy=FAST))
        status = wait_phase(cluster, Phase.FAILED, name=long_name)
        assert "metadata.name" in status.message and "55" in status.message
        invalid = {c.type: c for c in status.conditions}["InvalidSpec"]
        assert invalid.status == "True" and "metadata.name" in invalid.message
        assert wait_for(lambda: "InvalidSpec" in events(cluster, long_name))
        wait_phase(cluster, Phase.SUCCEEDED, name="fine")
    assert not [
        s["metadata"]["name"]
        for s in cluster.list("v1", "services", NAMESPACE)
        if s["metadata"]["name"].startswith(long_name)
    ]
    assert cluster.get("apps/v1", "deployments", NAMESPACE, f"{long_name}-blue") is None


def test_duplicate_gate_names_fail_naming_the_field(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    twice = [
        {**GATES[0], "successThreshold": 5},
        {**GATES[0], "successThreshold": 1, "http": {"path": "/livez"}},
    ]
    with RunningOperator(cluster):
        cluster.create(release(gates=twice, strategy=FAST))
        status = wait_phase(cluster, Phase.FAILED)
        assert "spec.gates" in status.message and "readyz" in status.message
        assert wait_for(lambda: "InvalidSpec" in events(cluster))
    assert cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue") is None


def test_a_foreign_deployment_with_a_colours_name_fails_at_once(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    foreign = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web-blue", "namespace": NAMESPACE},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "other"}},
            "template": {
                "metadata": {"labels": {"app": "other"}},
                "spec": {"containers": [{"name": "other", "image": "other:1"}]},
            },
        },
    }
    cluster.create(foreign)
    with RunningOperator(cluster):
        cluster.create(release(strategy={**FAST, "progressDeadlineSeconds": 600}))
        status = wait_phase(cluster, Phase.FAILED, timeout=10)
        assert "web-blue" in status.message and "not owned" in status.message
        invalid = {c.type: c for c in status.conditions}["InvalidSpec"]
        assert invalid.status == "True" and "web-blue" in invalid.message
        assert invalid.reason == "ForeignObject"
        assert wait_for(lambda: "InvalidSpec" in events(cluster))
    kept = cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue") or {}
    assert kept["spec"]["template"]["spec"]["containers"][0]["image"] == "other:1"
    assert not kept["metadata"].get("ownerReferences")
    assert selector_color(cluster) is None


RECHECK = models.ANNOTATION_RECHECK


def _idle(cluster: EmulatedCluster, name: str = "web") -> bool:
    body = cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, name) or {}
    status = models.ReleaseStatus.model_validate(body.get("status") or {})
    annotations = body.get("metadata", {}).get("annotations") or {}
    return (
        status.phase is Phase.SUCCEEDED
        and not status.actions_pending
        and not status.scale_down_color
        and not any(key in annotations for key in (*models.ACTION_ANNOTATIONS, RECHECK))
    )


def _uid(cluster: EmulatedCluster, api_version: str, plural: str, name: str) -> str | None:
    obj = cluster.get(api_version, plural, NAMESPACE, name)
    return None if obj is None else str(obj["metadata"]["uid"])


def _available_history(cluster: EmulatedCluster, name: str = "web") -> list[tuple[str, str]]:
    """(status, reason) of the Available condition in every stored version of the Release."""
    seen = []
    for version in cluster.history(models.API_VERSION, models.PLURAL, NAMESPACE, name):
        for condition in (version.get("status") or {}).get("conditions") or []:
            if condition["type"] == "Available":
                seen.append((condition["status"], condition.get("reason", "")))
    return seen


def test_a_deleted_active_deployment_is_restored_from_its_revision(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """`kubectl delete deploy web-blue` under an idle, succeeded Release: the operator notices
    (it watches what it owns), creates the serving colour again from the stored revision,
    says so with a Warning Event, and Available tells the truth meanwhile."""
    with RunningOperator(cluster):
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        assert wait_for(lambda: _idle(cluster) and selector_color(cluster) == "blue")
        before = _uid(cluster, "apps/v1", "deployments", "web-blue")
        cluster.delete("apps/v1", "deployments", NAMESPACE, "web-blue")

        def restored() -> bool:
            blue = cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue") or {}
            uid = blue.get("metadata", {}).get("uid")
            return uid not in (None, before) and blue.get("status", {}).get("readyReplicas") == 2

        assert wait_for(restored, timeout=10)
        blue = cluster.get("apps/v1", "deployments", NAMESPACE, "web-blue") or {}
        labels = blue["spec"]["template"]["metadata"]["labels"]
        assert labels[models.LABEL_REVISION] == "1"
        assert wait_for(lambda: "DeploymentRestored" in events(cluster), timeout=5)
        assert ("False", "ActiveDeploymentMissing") in _available_history(cluster)
        assert wait_for(lambda: _available_history(cluster)[-1] == ("True", "ActiveColorServing"))
        assert wait_for(lambda: _idle(cluster), timeout=5)
        assert status_of(cluster).phase is Phase.SUCCEEDED
        assert selector_color(cluster) == "blue"
    assert_traffic_invariant(cluster)


def test_a_deleted_active_service_is_recreated_while_idle(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        assert wait_for(lambda: _idle(cluster) and selector_color(cluster) == "blue")
        before = _uid(cluster, "v1", "services", "web")
        cluster.delete("v1", "services", NAMESPACE, "web")
        assert wait_for(
            lambda: _uid(cluster, "v1", "services", "web") not in (None, before), timeout=10
        )
        assert service_target(cluster) == ("blue", 8000)
        assert wait_for(lambda: "ServiceRestored" in events(cluster), timeout=5)
        assert ("False", "ActiveServiceMissing") in _available_history(cluster)
        assert wait_for(lambda: _available_history(cluster)[-1] == ("True", "ActiveColorServing"))
        assert wait_for(lambda: _idle(cluster), timeout=5)
    assert_traffic_invariant(cluster)


def test_renaming_the_service_removes_the_old_one_once_the_new_one_serves(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    with RunningOperator(cluster):
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        assert wait_for(lambda: _idle(cluster) and selector_color(cluster) == "blue")
        update(cluster, {"service": {"name": "storefront"}})
        wait_phase(cluster, Phase.SUCCEEDED, generation=2)
        assert wait_for(lambda: service_target(cluster, "storefront") == ("blue", 8000))
        assert wait_for(lambda: cluster.get("v1", "services", NAMESPACE, "web") is None, timeout=10)
        assert wait_for(lambda: "ServiceRemoved" in events(cluster), timeout=5)
        assert wait_for(lambda: _idle(cluster), timeout=5)
        assert status_of(cluster).service_names == ["storefront", "web-preview"]
        set_image(cluster, "web:2")
        wait_phase(cluster, Phase.SUCCEEDED, generation=3)
        assert wait_for(lambda: selector_color(cluster, "storefront") == "green")
        assert cluster.get("v1", "services", NAMESPACE, "web") is None
    # Neither name ever sent traffic to a colour without ready pods.
    assert_traffic_invariant(cluster, service="web")
    assert_traffic_invariant(cluster, service="storefront")


def test_a_promote_meant_for_a_superseded_revision_is_refused(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """The CLI (and the API) promote the revision they saw awaiting promotion; when a pipeline
    supersedes it meanwhile, the promote is refused with an Event, and the newer revision
    stops in AwaitingPromotion as it must."""
    manual = {**FAST, "autoPromote": False}
    with RunningOperator(cluster):
        cluster.create(release(gates=GATES, strategy=manual))
        wait_phase(cluster, Phase.AWAITING_PROMOTION)
        annotate(cluster, models.ANNOTATION_PROMOTE, "true")  # a bare "true" still works
        wait_phase(cluster, Phase.SUCCEEDED)
        set_image(cluster, "web:2")
        seen = wait_phase(cluster, Phase.AWAITING_PROMOTION, generation=2)
        promote = user_actions.plan_promote("web", seen).annotations
        set_image(cluster, "web:3")
        assert wait_for(lambda: status_of(cluster).current_revision == 3)
        for key, value in promote.items():
            annotate(cluster, key, value)
        status = wait_phase(cluster, Phase.AWAITING_PROMOTION, Phase.SUCCEEDED, generation=3)
        assert (status.phase, status.current_revision) == (Phase.AWAITING_PROMOTION, 3)
        assert wait_for(lambda: "ActionIgnored" in events(cluster))
        assert selector_color(cluster) == "blue"
        promote = user_actions.plan_promote("web", status).annotations
        for key, value in promote.items():
            annotate(cluster, key, value)
        status = wait_phase(cluster, Phase.SUCCEEDED, generation=3)
        assert status.stable_revision == 3
        assert wait_for(lambda: events(cluster).count("PromoteUsed") == 2)
    assert_traffic_invariant(cluster)


def test_a_release_recreated_before_garbage_collection_is_released_once_it_is_done(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """`kubectl delete rel web && kubectl apply -f web.yaml` while the garbage collector still
    holds the old Service (here: a finalizer of another controller): the new Release cannot
    take it over and fails, then releases by itself once the old Service is gone, with no
    change to its spec."""
    with RunningOperator(cluster):
        cluster.create(release(strategy=FAST))
        wait_phase(cluster, Phase.SUCCEEDED)
        assert wait_for(lambda: _idle(cluster) and selector_color(cluster) == "blue")
        cluster.patch("v1", "services", NAMESPACE, "web", {"metadata": {"finalizers": ["x/hold"]}})
        cluster.delete(models.API_VERSION, models.PLURAL, NAMESPACE, "web")
        assert wait_for(
            lambda: cluster.get(models.API_VERSION, models.PLURAL, NAMESPACE, "web") is None
        )
        cluster.create(release(strategy=FAST))
        status = wait_phase(cluster, Phase.FAILED, timeout=10)
        assert "spec.service.name" in status.message
        cluster.patch("v1", "services", NAMESPACE, "web", {"metadata": {"finalizers": None}})
        status = wait_phase(cluster, Phase.SUCCEEDED, generation=1, timeout=10)
        assert status.stable_revision == 1
        assert wait_for(lambda: selector_color(cluster) == "blue")
        assert {c.type: c.status for c in status_of(cluster).conditions}["InvalidSpec"] == "False"


def _greenlight_events(cluster: EmulatedCluster, name: str = "web") -> list[dict[str, Any]]:
    """The operator's own Events on the Release (not Kopf's reports of failed ticks)."""
    return [
        e
        for e in cluster.list("v1", "events", NAMESPACE)
        if e.get("involvedObject", {}).get("name") == name
        and e.get("source", {}).get("component") == "greenlight"
    ]


def _first_switch(cluster: EmulatedCluster, color: str) -> tuple[int, float]:
    """The resourceVersion of the first stored active Service selecting `color`, and the wall
    clock time at which the request that wrote it was answered."""
    version = next(
        s
        for s in cluster.history("v1", "services", NAMESPACE, "web")
        if (s["spec"].get("selector") or {}).get(models.LABEL_COLOR) == color
    )
    # Requests carry monotonic times: the active Service is the last one created.
    created = [
        r
        for r in cluster.requests
        if r.method == "POST" and r.path.endswith(f"/namespaces/{NAMESPACE}/services")
    ]
    answered = [r for r in created if r.status == 201][-1]
    offset = time.time() - time.monotonic()
    return int(version["metadata"]["resourceVersion"]), answered.time + offset


def test_transitions_survive_a_crash_between_the_status_write_and_the_events(
    cluster: EmulatedCluster, apps: FakeApps, controllers: FakeControllers
) -> None:
    """The tick that decides the switch writes status, then neither its Service write nor its
    Events get through, and the operator stops. The restarted operator completes the switch,
    posts the gate-passed, switch and post-verification Events exactly once, and counts the
    verification window from the moment the active Service selects the new colour."""
    verify = smoke_verification(duration_seconds=2)
    with RunningOperator(cluster):
        cluster.create(release(gates=GATES, verification=verify, strategy=FAST))
        wait_phase(cluster, Phase.VERIFYING)
        cluster.inject_errors(method="POST", path_regex=r"/events$", status=500, count=10_000)
        cluster.inject_errors(method="POST", path_regex=r"/services$", status=500, count=10_000)
        status = wait_phase(cluster, Phase.POST_VERIFICATION)
        assert status.active_color == "blue" and status.actions_pending
    stopped_at = time.time()
    assert selector_color(cluster) is None
    cluster.clear_faults()
    with RunningOperator(cluster):
        status = wait_phase(cluster, Phase.SUCCEEDED)
        assert wait_for(
            lambda: "Succeeded" in [e["reason"] for e in _greenlight_events(cluster)], timeout=10
        )
    posted = collections.Counter(
        (e["reason"], e["message"].split(":")[0] if e["reason"] == "GatePassed" else "")
        for e in _greenlight_events(cluster)
    )
    assert posted == {
        ("ReleaseStarted", ""): 1,
        ("Progressing", ""): 1,
        ("Verifying", ""): 1,
        ("GatePassed", "gate readyz"): 1,
        ("SwitchService", ""): 1,
        ("PostVerification", ""): 1,
        ("GatePassed", "gate smoke"): 1,
        ("Succeeded", ""): 1,
    }, posted
    switch_rv, switch_time = _first_switch(cluster, "blue")
    assert switch_time > stopped_at  # the switch happened after the restart
    # The window was first started by a status write after the Service's switch, at a time
    # after it, and it lasted its whole duration from there.
    started = [
        (int(v["metadata"]["resourceVersion"]), v["status"]["verificationStartedAt"])
        for v in cluster.history(models.API_VERSION, models.PLURAL, NAMESPACE, "web")
        if (v.get("status") or {}).get("verificationStartedAt")
    ]
    first_rv, first_start = started[0]
    assert first_rv > switch_rv, (first_rv, switch_rv)
    start = datetime.datetime.fromisoformat(first_start.replace("Z", "+00:00")).timestamp()
    assert start >= switch_time - 0.01, (start, switch_time)
    assert status.phase_started_at is not None
    succeeded = status.phase_started_at.timestamp()
    assert succeeded - switch_time >= verify["durationSeconds"]
    assert_never_succeeded_before_the_service(cluster)
