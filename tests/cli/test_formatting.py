"""The CLI's small pure pieces: durations, ages, progress lines, malformed annotations."""

from __future__ import annotations

import datetime

import pytest

from greenlight import models
from greenlight.cli import output
from greenlight.cli.options import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1.5s", 1.5)],
)
def test_durations_read_as_kubectl_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "10x", "m10", "10m-"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5, "5s"), (75, "1m15s"), (600, "10m"), (3 * 3600 + 120, "3h2m"), (3 * 86400, "3d")],
)
def test_spans_are_short(seconds: int, shown: str) -> None:
    assert output.format_seconds(seconds) == shown


def test_ages_count_from_rfc3339_timestamps() -> None:
    now = datetime.datetime(2024, 5, 1, 12, 0, 30, tzinfo=datetime.UTC)
    assert output.age("2024-05-01T12:00:00Z", now) == "30s"
    assert output.age(None, now) == "-"
    assert output.age("yesterday", now) == "-"


def test_a_progress_line_says_phase_revision_gates_and_message() -> None:
    release = {
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": {"gates": [{"name": "readyz", "successThreshold": 3}, {"name": "smoke"}]},
    }
    status = models.ReleaseStatus.model_validate(
        {
            "observedGeneration": 1,
            "phase": "Verifying",
            "currentRevision": 4,
            "previewColor": "green",
            "message": "probing the preview Service",
            "gates": [
                {"name": "readyz", "phase": "Running", "successes": 2},
                {"name": "smoke", "phase": "Passed", "successes": 1},
            ],
        }
    )
    assert output.progress_line(release, status) == (
        "shop/web Verifying revision 4 (green) gates readyz 2/3, smoke passed: "
        "probing the preview Service"
    )
