"""Status times are timezone-aware datetimes in the models and RFC 3339 with a `Z` when stored."""

from __future__ import annotations

import datetime

import pytest

from greenlight import models
from greenlight.rollout.draft import Draft

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("stored", "moment"),
    [
        ("2026-01-01T10:00:00Z", datetime.datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T10:00:00.250000Z", datetime.datetime(2026, 1, 1, 10, 0, 0, 250000, UTC)),
    ],
)
def test_a_stored_time_round_trips_through_the_status_model(
    stored: str, moment: datetime.datetime
) -> None:
    status = models.ReleaseStatus.model_validate(
        {
            "switchedAt": stored,
            "gates": [{"name": "ready", "lastProbeTime": stored}],
            "history": [{"revision": 1, "outcome": "Succeeded", "startedAt": stored}],
        }
    )
    assert status.switched_at == moment
    assert status.gates[0].last_probe_time == moment
    assert status.history[0].started_at == moment
    stored_again = status.model_dump(mode="json", by_alias=True)
    assert stored_again["switchedAt"] == stored
    assert stored_again["gates"][0]["lastProbeTime"] == stored
    assert stored_again["history"][0]["startedAt"] == stored


def test_a_time_in_another_zone_is_stored_in_utc() -> None:
    paris = datetime.timezone(datetime.timedelta(hours=1))
    status = models.ReleaseStatus(switched_at=datetime.datetime(2026, 1, 1, 11, tzinfo=paris))
    assert status.model_dump(mode="json", by_alias=True)["switchedAt"] == "2026-01-01T10:00:00Z"


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        # Written by hand without a zone: UTC, as Kubernetes means it.
        ("2026-01-01T10:00:00", datetime.datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T11:00:00+01:00", datetime.datetime(2026, 1, 1, 10, tzinfo=UTC)),
        # Not a time at all: as if unset, instead of making the whole status unreadable.
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_a_stored_time_is_read_leniently(
    stored: str | None, read: datetime.datetime | None
) -> None:
    status = models.ReleaseStatus.model_validate({"phaseStartedAt": stored})
    assert status.phase_started_at == read
    assert status.phase_started_at is None or status.phase_started_at.tzinfo is not None


def test_the_draft_keeps_times_as_datetimes_and_finishes_as_a_stored_status() -> None:
    before = models.ReleaseStatus.model_validate({"releaseStartedAt": "2026-01-01T10:00:00Z"})
    now = datetime.datetime(2026, 1, 1, 10, 5, 30, 125000, UTC)
    draft = Draft.of(before, now, {})
    draft.enter(models.Phase.PROGRESSING, "rolling out")
    assert draft.status.phase_started_at == now
    after = draft.finish()
    assert type(after) is models.ReleaseStatus
    stored = after.model_dump(mode="json", by_alias=True)
    assert stored["phaseStartedAt"] == "2026-01-01T10:05:30.125000Z"
    assert stored["releaseStartedAt"] == "2026-01-01T10:00:00Z"
    assert before.phase_started_at is None  # the stored status it started from is untouched
