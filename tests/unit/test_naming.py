"""Names and hashes every part of Greenlight derives from a Release."""

from __future__ import annotations

import pytest

from greenlight import models, naming
from greenlight.models import Color


def spec(**service: object) -> models.ReleaseSpec:
    return models.ReleaseSpec.model_validate({"template": {}, "service": service})


def test_deployments_are_named_after_release_and_color() -> None:
    assert naming.deployment_name("web", Color.BLUE) == "web-blue"
    assert naming.deployment_name("web", Color.GREEN) == "web-green"


def test_service_names_default_to_release_and_preview_suffix() -> None:
    assert naming.active_service_name("web", spec()) == "web"
    assert naming.preview_service_name("web", spec()) == "web-preview"


def test_service_names_follow_the_spec_when_given() -> None:
    given = spec(name="shop", previewName="shop-next")
    assert naming.active_service_name("web", given) == "shop"
    assert naming.preview_service_name("web", given) == "shop-next"


def test_revision_objects_are_numbered_per_release() -> None:
    assert naming.revision_object_name("web", 7) == "web-r7"


def test_template_hash_ignores_key_order_and_sees_every_change() -> None:
    one = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"image": "x"}]}}
    same = {"spec": {"containers": [{"image": "x"}]}, "metadata": {"labels": {"b": "2", "a": "1"}}}
    other = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"image": "y"}]}}
    assert naming.template_hash(one) == naming.template_hash(same)
    assert naming.template_hash(one) != naming.template_hash(other)
    assert len(naming.template_hash(one)) == 10
    assert all(c in "0123456789abcdef" for c in naming.template_hash(one))


def test_template_hash_is_stable_across_runs() -> None:
    # A restarted operator must compute the same hash for the same stored template.
    assert naming.template_hash({}) == "44136fa355"


def test_images_are_listed_in_container_order() -> None:
    template = {
        "spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "a", "image": "web:1"}, {"name": "b", "image": "proxy:2"}],
        }
    }
    assert naming.images_of(template) == ("web:1", "proxy:2")
    assert naming.images_of({}) == ()


@pytest.mark.parametrize(
    ("release", "pod", "color"),
    [
        ("web", "web-blue-5d8f7c9b4-x2k9p", Color.BLUE),
        ("web", "web-green-6c9d8f-abcde", Color.GREEN),
        # Release `web` never claims pods of release `web-blue`, nor `web-blue` those of `web`.
        ("web", "web-blue-blue-5d8f7c9b4-x2k9p", None),
        ("web-blue", "web-blue-blue-5d8f7c9b4-x2k9p", Color.BLUE),
        ("web-blue", "web-blue-5d8f7c9b4-x2k9p", None),
        ("web", "web-red-5d8f7c9b4-x2k9p", None),
        ("web", "web-blue-x2k9p", None),
        ("web", "api-blue-5d8f7c9b4-x2k9p", None),
        ("web", "web-blue-5d8f7c9b4-x2k9p-extra", None),
        ("w.b", "wxb-blue-5d8f7c9b4-x2k9p", None),  # the release name is literal, not a regex
    ],
)
def test_pod_color_is_anchored_to_the_release(release: str, pod: str, color: Color | None) -> None:
    assert naming.pod_color(release, pod) == color


def test_event_names_are_stable_per_release_incarnation_and_number() -> None:
    uid = "F8F80F3F-0234-4E47-AC19-180EEEFDB9D5"
    assert naming.event_name("web", uid, 7) == naming.event_name("web", uid, 7)
    assert naming.event_name("web", uid, 7) == "web.f8f80f3f0234.7"
    assert naming.event_name("web", uid, 8) != naming.event_name("web", uid, 7)
    other = "0d3c2b1a-0000-4000-8000-000000000000"
    assert naming.event_name("web", other, 7) != naming.event_name("web", uid, 7)
    assert naming.event_name("web", "", 7) == "web.7"
