"""The gateway against the emulated API server: what it sees, and what its actions do."""

from __future__ import annotations

import concurrent.futures
import datetime
from typing import Any

import pytest

from greenlight import models, naming
from greenlight.kube import revisions
from greenlight.kube.common import Kube
from greenlight.kube.errors import ForeignObject, RevisionNotFound, TemplateMismatch
from greenlight.kube.gateway import ClusterGateway
from greenlight.kube.target import ReleaseTarget
from greenlight.models import Color
from greenlight.rollout import actions as act
from greenlight.rollout.observation import ColorState, ServiceState
from greenlight_sandbox.emulator import EmulatedCluster
from greenlight_sandbox.emulator.controllers import FakeControllers
from tests.kube.conftest import SETTINGS
from tests.kube.factories import RELEASES, release_body, target_of, template

DEPLOYMENTS = ("apps/v1", "deployments")
SERVICES = ("v1", "services")
REVISIONS = ("apps/v1", "controllerrevisions")
ACTIVE, PREVIEW = act.ServiceRole.ACTIVE, act.ServiceRole.PREVIEW
JSON_PATCH = "application/json-patch+json"


def store(gateway: ClusterGateway, target: ReleaseTarget, revision: int) -> None:
    gateway.apply(
        target,
        act.StoreRevision(revision=revision, template_hash=naming.template_hash(target.template)),
    )


def deploy(gateway: ClusterGateway, target: ReleaseTarget, color: Color, revision: int) -> None:
    gateway.apply(target, act.DeployColor(color=color, revision=revision, replicas=2))


def calls(cluster: EmulatedCluster) -> list[str]:
    return [f"{r.method} {r.path}" for r in cluster.requests]


def selector_color(cluster: EmulatedCluster, name: str) -> str | None:
    service = cluster.get(*SERVICES, "shop", name)
    assert service is not None
    color: str | None = service["spec"]["selector"].get(models.LABEL_COLOR)
    return color


def foreign_service(cluster: EmulatedCluster, name: str) -> dict[str, Any]:
    return cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"selector": {"app": "legacy"}, "ports": [{"port": 80}]},
        }
    )


class TestObserve:
    def test_a_new_release_has_nothing_and_costs_four_requests(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        view = gateway.observe(target, want_endpoints=False)
        assert view.colors == {Color.BLUE: ColorState(), Color.GREEN: ColorState()}
        assert view.active_service == view.preview_service == ServiceState()
        assert view.active_endpoint_colors is None
        assert view.stored_revisions == frozenset()
        assert sorted(calls(cluster)) == [
            "GET /api/v1/namespaces/shop/services/web",
            "GET /api/v1/namespaces/shop/services/web-preview",
            "GET /apis/apps/v1/namespaces/shop/controllerrevisions",
            "GET /apis/apps/v1/namespaces/shop/deployments",
        ]

    def test_endpoint_slices_are_read_only_when_asked(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        assert gateway.observe(target, want_endpoints=True).active_endpoint_colors == frozenset()
        assert len(cluster.requests) == 5
        assert cluster.requests[3].query == {"labelSelector": "kubernetes.io/service-name=web"}

    def test_a_whole_release_as_the_decision_sees_it(
        self,
        gateway: ClusterGateway,
        target: ReleaseTarget,
        cluster: EmulatedCluster,
        controllers: FakeControllers,
    ) -> None:
        store(gateway, target, 1)
        deploy(gateway, target, Color.BLUE, 1)
        gateway.apply(target, act.PointService(role=PREVIEW, color=Color.BLUE))
        rolling = gateway.observe(target, want_endpoints=False).colors[Color.BLUE]
        assert rolling == ColorState(
            exists=True, revision=1, replicas=2, rolled_out=False, container_port=8000
        )

        controllers.mark_deployment_ready("shop", "web-blue")
        gateway.apply(target, act.PointService(role=ACTIVE, color=Color.BLUE))
        controllers.set_endpoints_for_service("shop", "web")
        view = gateway.observe(target, want_endpoints=True)
        assert view.colors[Color.BLUE] == ColorState(
            exists=True,
            revision=1,
            replicas=2,
            ready_replicas=2,
            rolled_out=True,
            container_port=8000,
        )
        assert view.colors[Color.BLUE].serving
        assert view.colors[Color.GREEN] == ColorState()
        assert view.active_service == ServiceState(
            exists=True, selected_color=Color.BLUE, target_port=target.target_port
        )
        assert view.preview_service == view.active_service
        assert view.active_endpoint_colors == frozenset({Color.BLUE})
        assert view.stored_revisions == frozenset({1})

    def test_objects_of_a_release_with_a_longer_name_are_not_ours(
        self,
        gateway: ClusterGateway,
        target: ReleaseTarget,
        cluster: EmulatedCluster,
        controllers: FakeControllers,
    ) -> None:
        other = target_of(cluster.create(release_body("web-blue")))
        store(gateway, other, 1)
        deploy(gateway, other, Color.GREEN, 1)  # Deployment `web-blue-green`
        gateway.apply(other, act.PointService(role=ACTIVE, color=Color.GREEN))
        view = gateway.observe(target, want_endpoints=False)
        assert view.colors == {Color.BLUE: ColorState(), Color.GREEN: ColorState()}
        assert view.stored_revisions == frozenset()


class TestDeployments:
    def test_a_new_revision_replaces_the_pod_template_whole(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        store(gateway, target, 1)
        deploy(gateway, target, Color.GREEN, 1)
        first = cluster.get(*DEPLOYMENTS, "shop", "web-green")
        assert first is not None
        assert first["metadata"]["ownerReferences"][0]["uid"] == target.uid

        newer = template("web:2")
        del newer["metadata"]["labels"]["app"]
        newer["metadata"]["labels"]["tier"] = "front"
        replace = [{"op": "replace", "path": "/spec/template", "value": newer}]
        second_target = target_of(
            cluster.patch(*RELEASES, "shop", "web", replace, content_type=JSON_PATCH)
        )
        store(gateway, second_target, 2)
        deploy(gateway, second_target, Color.GREEN, 2)

        second = cluster.get(*DEPLOYMENTS, "shop", "web-green")
        assert second is not None
        assert second["metadata"]["uid"] == first["metadata"]["uid"]  # patched, not re-created
        assert second["metadata"]["generation"] > first["metadata"]["generation"]
        pod = second["spec"]["template"]
        assert "app" not in pod["metadata"]["labels"]
        assert pod["metadata"]["labels"]["tier"] == "front"
        assert pod["metadata"]["labels"][models.LABEL_REVISION] == "2"
        assert pod["spec"]["containers"][0]["image"] == "web:2"
        assert second["metadata"]["labels"][models.LABEL_REVISION] == "2"
        assert second["spec"]["selector"] == first["spec"]["selector"]

    def test_a_rollback_deploys_a_stored_template_after_the_spec_moved_on(
        self,
        gateway: ClusterGateway,
        target: ReleaseTarget,
        cluster: EmulatedCluster,
        api_client: Any,
    ) -> None:
        store(gateway, target, 1)
        newer = target_of(
            cluster.patch(*RELEASES, "shop", "web", {"spec": {"template": template("web:2")}})
        )
        store(gateway, newer, 2)
        fresh = ClusterGateway(api_client, SETTINGS)  # nothing cached
        fresh.apply(newer, act.DeployColor(color=Color.BLUE, revision=1, replicas=1))
        deployed = cluster.get(*DEPLOYMENTS, "shop", "web-blue")
        assert deployed is not None
        assert deployed["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"

    def test_a_revision_template_is_read_once(
        self,
        gateway: ClusterGateway,
        target: ReleaseTarget,
        cluster: EmulatedCluster,
        api_client: Any,
    ) -> None:
        store(gateway, target, 1)
        fresh = ClusterGateway(api_client, SETTINGS)
        cluster.clear_requests()
        deploy(fresh, target, Color.BLUE, 1)
        deploy(fresh, target, Color.GREEN, 1)
        reads = [c for c in calls(cluster) if c.startswith("GET") and "controllerrevisions" in c]
        assert reads == ["GET /apis/apps/v1/namespaces/shop/controllerrevisions/web-r1"]

    def test_deploying_a_revision_that_is_not_stored_is_refused(
        self, gateway: ClusterGateway, target: ReleaseTarget
    ) -> None:
        with pytest.raises(RevisionNotFound):
            deploy(gateway, target, Color.BLUE, 9)

    def test_scaling_keeps_the_template_and_tolerates_absence(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        store(gateway, target, 1)
        deploy(gateway, target, Color.BLUE, 1)
        before = cluster.get(*DEPLOYMENTS, "shop", "web-blue")
        gateway.apply(target, act.ScaleColor(color=Color.BLUE, replicas=0))
        after = cluster.get(*DEPLOYMENTS, "shop", "web-blue")
        assert before is not None and after is not None
        assert after["spec"]["replicas"] == 0
        assert after["spec"]["template"] == before["spec"]["template"]
        gateway.apply(target, act.ScaleColor(color=Color.GREEN, replicas=0))  # absent: fine
        cluster.clear_requests()
        gateway.apply(target, act.ScaleColor(color=Color.BLUE, replicas=0))
        assert [r.method for r in cluster.requests] == ["GET"]  # nothing to change

    def test_a_foreign_deployment_is_never_touched(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        store(gateway, target, 1)
        theirs = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web-blue", "namespace": "shop", "labels": {"app": "theirs"}},
            "spec": {
                "replicas": 5,
                "selector": {"matchLabels": {"app": "theirs"}},
                "template": {"metadata": {"labels": {"app": "theirs"}}, "spec": {"containers": []}},
            },
        }
        created = cluster.create(theirs)
        assert gateway.observe(target, want_endpoints=False).colors[Color.BLUE] == ColorState()
        with pytest.raises(ForeignObject):
            deploy(gateway, target, Color.BLUE, 1)
        with pytest.raises(ForeignObject):
            gateway.apply(target, act.ScaleColor(color=Color.BLUE, replicas=0))
        unchanged = cluster.get(*DEPLOYMENTS, "shop", "web-blue")
        assert unchanged is not None
        assert unchanged["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


class TestServices:
    def test_created_then_pointed_at_the_other_colour(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        gateway.apply(target, act.PointService(role=ACTIVE, color=Color.BLUE))
        created = cluster.get(*SERVICES, "shop", "web")
        assert created is not None
        assert created["spec"]["selector"] == {
            models.LABEL_RELEASE: "web",
            models.LABEL_COLOR: "blue",
        }
        assert created["spec"]["ports"][0]["name"] == "http"
        assert created["spec"]["ports"][0]["port"] == 80
        assert created["spec"]["ports"][0]["targetPort"] == 8000
        assert created["metadata"]["ownerReferences"][0]["uid"] == target.uid

        gateway.apply(target, act.PointService(role=ACTIVE, color=Color.GREEN))
        assert selector_color(cluster, "web") == "green"
        history = cluster.history(*SERVICES, "shop", "web")
        colors = [version["spec"]["selector"][models.LABEL_COLOR] for version in history]
        assert colors == ["blue", "green"]

    def test_pointing_again_writes_nothing(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        gateway.apply(target, act.PointService(role=PREVIEW, color=Color.GREEN))
        cluster.clear_requests()
        gateway.apply(target, act.PointService(role=PREVIEW, color=Color.GREEN))
        assert calls(cluster) == ["GET /api/v1/namespaces/shop/services/web-preview"]

    def test_a_changed_port_is_patched_with_the_selector(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        gateway.apply(target, act.PointService(role=ACTIVE, color=Color.BLUE))
        moved = target_of(
            cluster.patch(*RELEASES, "shop", "web", {"spec": {"service": {"port": 8080}}}),
            target_port="http",
        )
        gateway.apply(moved, act.PointService(role=ACTIVE, color=Color.BLUE))
        service = cluster.get(*SERVICES, "shop", "web")
        assert service is not None
        assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8080, "http")]

    def test_a_foreign_service_is_reported_and_refused(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        created = foreign_service(cluster, "web")
        view = gateway.observe(target, want_endpoints=False)
        assert view.active_service == ServiceState(
            exists=True, selected_color=None, foreign=True, target_port=80
        )
        with pytest.raises(ForeignObject) as raised:
            gateway.apply(target, act.PointService(role=ACTIVE, color=Color.BLUE))
        assert (raised.value.kind, raised.value.name) == ("Service", "web")
        unchanged = cluster.get(*SERVICES, "shop", "web")
        assert unchanged is not None
        assert unchanged["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        assert unchanged["spec"]["selector"] == {"app": "legacy"}

    @pytest.mark.parametrize(
        ("forged", "why"),
        [
            ({"controller": None, "labels": True, "type": "ClusterIP"}, "a plain reference"),
            ({"controller": True, "labels": False, "type": "ClusterIP"}, "no managed-by label"),
            ({"controller": True, "labels": True, "type": "LoadBalancer"}, "a LoadBalancer"),
            ({"controller": True, "labels": True, "type": "NodePort"}, "a NodePort"),
            ({"controller": True, "labels": True, "externalIPs": ["203.0.113.9"]}, "external IPs"),
        ],
    )
    def test_a_service_with_a_forged_owner_reference_is_foreign(
        self,
        gateway: ClusterGateway,
        target: ReleaseTarget,
        cluster: EmulatedCluster,
        forged: dict[str, Any],
        why: str,
    ) -> None:
        # The Release's uid is readable by anyone who may read the Release.
        reference: dict[str, Any] = {
            "apiVersion": "greenlight.dev/v1alpha1",
            "kind": "Release",
            "name": "web",
            "uid": target.uid,
        }
        if forged["controller"]:
            reference["controller"] = True
        spec: dict[str, Any] = {"selector": {"app": "legacy"}, "ports": [{"port": 80}]}
        if "type" in forged:
            spec["type"] = forged["type"]
        if "externalIPs" in forged:
            spec["externalIPs"] = forged["externalIPs"]
        metadata: dict[str, Any] = {
            "name": "web",
            "namespace": "shop",
            "ownerReferences": [reference],
        }
        if forged["labels"]:
            metadata["labels"] = {"app.kubernetes.io/managed-by": "greenlight"}
        created = cluster.create(
            {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}
        )
        view = gateway.observe(target, want_endpoints=False)
        assert view.active_service.foreign, why
        with pytest.raises(ForeignObject):
            gateway.apply(target, act.PointService(role=ACTIVE, color=Color.BLUE))
        unchanged = cluster.get(*SERVICES, "shop", "web")
        assert unchanged is not None
        assert unchanged["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        assert unchanged["spec"]["selector"] == {"app": "legacy"}


class TestRevisions:
    def test_stored_listed_and_pruned(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        for number in (1, 2, 3):
            store(gateway, target, number)
        store(gateway, target, 3)  # again: nothing changes
        assert gateway.observe(target, want_endpoints=False).stored_revisions == {1, 2, 3}
        gateway.apply(target, act.PruneRevisions(keep=frozenset({2, 3})))
        assert gateway.observe(target, want_endpoints=False).stored_revisions == {2, 3}
        names = [item["metadata"]["name"] for item in cluster.list(*REVISIONS, "shop")]
        assert sorted(names) == ["web-r2", "web-r3"]
        with pytest.raises(RevisionNotFound):  # its cached template went with it
            deploy(gateway, target, Color.BLUE, 1)

    def test_a_template_that_does_not_match_the_action_is_not_stored(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        with pytest.raises(TemplateMismatch):
            gateway.apply(target, act.StoreRevision(revision=1, template_hash="0000000000"))
        assert cluster.list(*REVISIONS, "shop") == []

    def test_a_revision_stored_with_another_template_is_replaced(
        self, target: ReleaseTarget, api_client: Any
    ) -> None:
        kube = Kube(api_client, SETTINGS)
        revisions.store(kube, target, revision=1, template=template("web:old"))
        revisions.store(kube, target, revision=1, template=template("web:new"))
        assert revisions.read_template(kube, target, 1) == template("web:new")


class TestReleaseWrites:
    def test_an_event_is_posted_on_the_release(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        for message in ("first", "second"):
            gateway.apply(
                target,
                act.PostEvent(type=act.EventType.WARNING, reason="SwitchBack", message=message),
            )
        posted = cluster.list("v1", "events", "shop")
        assert sorted(event["message"] for event in posted) == ["first", "second"]
        event = posted[0]
        assert event["involvedObject"]["uid"] == target.uid
        assert event["involvedObject"]["kind"] == "Release"
        assert (event["type"], event["reason"]) == ("Warning", "SwitchBack")
        assert event["source"]["component"] == "greenlight"

    def test_a_numbered_event_posted_again_appears_once_with_its_transitions_time(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        switch = act.PostEvent(
            type=act.EventType.NORMAL,
            reason="SwitchService",
            message="active Service now selects green",
            sequence=4,
            at=datetime.datetime(2026, 1, 1, 10, tzinfo=datetime.UTC),
        )
        gateway.apply(target, switch)
        gateway.apply(target, switch)  # after a restart, before status recorded it posted
        posted = cluster.list("v1", "events", "shop")
        assert [e["metadata"]["name"] for e in posted] == [
            naming.event_name(target.name, target.uid, 4)
        ]
        assert posted[0]["firstTimestamp"] == "2026-01-01T10:00:00Z"
        # Another Event under a number already used (decided from an older status) is kept.
        gateway.apply(target, act.PostEvent(**{**vars(switch), "reason": "GatePassed"}))
        reasons = sorted(e["reason"] for e in cluster.list("v1", "events", "shop"))
        assert reasons == ["GatePassed", "SwitchService"]

    def test_status_is_written_and_an_annotation_removed(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        notes = {models.ANNOTATION_PROMOTE: "true", "team": "shop"}
        cluster.patch(*RELEASES, "shop", "web", {"metadata": {"annotations": notes}})
        status = models.ReleaseStatus(phase=models.Phase.PROGRESSING, current_revision=1)
        gateway.write_status(target, status.model_dump(by_alias=True, mode="json"))
        gateway.apply(target, act.RemoveAnnotation(key=models.ANNOTATION_PROMOTE))
        stored = cluster.get(*RELEASES, "shop", "web")
        assert stored is not None
        assert stored["status"]["phase"] == "Progressing"
        assert stored["status"]["currentRevision"] == 1
        assert stored["metadata"]["annotations"] == {"team": "shop"}
        assert stored["spec"] == release_body()["spec"] | {"template": template()}

    def test_writing_to_a_deleted_release_is_not_an_error(
        self, gateway: ClusterGateway, target: ReleaseTarget, cluster: EmulatedCluster
    ) -> None:
        cluster.delete(*RELEASES, "shop", "web")
        gateway.write_status(target, {"phase": "Succeeded"})
        gateway.apply(target, act.RemoveAnnotation(key=models.ANNOTATION_ABORT))


def test_one_gateway_serves_many_releases_from_many_threads(
    gateway: ClusterGateway, cluster: EmulatedCluster
) -> None:
    targets = [target_of(cluster.create(release_body(f"app{i}"))) for i in range(12)]

    def release(target: ReleaseTarget) -> None:
        store(gateway, target, 1)
        deploy(gateway, target, Color.BLUE, 1)
        gateway.apply(target, act.PointService(role=PREVIEW, color=Color.BLUE))

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(release, targets))
    for target in targets:
        view = gateway.observe(target, want_endpoints=False)
        assert view.colors[Color.BLUE].revision == 1
        assert view.preview_service.selected_color is Color.BLUE
        assert view.stored_revisions == {1}
