"""The report's figures from synthetic records, and its picture: a PNG that shows red exactly
when something failed."""

from __future__ import annotations

import math
import pathlib

import pytest
from PIL import Image

from greenlight_sandbox.loadgen import LoadRecord
from greenlight_sandbox.report import (
    RED,
    Moment,
    Window,
    format_summary,
    percentile,
    summarize,
    write_picture,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 5000.0  # a time.monotonic() value: records and marks share it, the picture starts at 0


def answered(at: float, color: str, latency: float = 0.002, status: int = 200) -> LoadRecord:
    error = f"HTTP {status}" if status >= 500 else None
    return LoadRecord(
        scheduled=T0 + at,
        latency=latency,
        status=status,
        ok=error is None,
        error=error,
        version="2.0" if color == "green" else "1.0",
        color=color,
    )


def unanswered(at: float, error: str) -> LoadRecord:
    return LoadRecord(
        scheduled=T0 + at,
        latency=None,
        status=None,
        ok=False,
        error=error,
        version=None,
        color=None,
    )


def a_release() -> list[LoadRecord]:
    """10 s at 10 requests a second: blue, a switch at 5 s with two refusals and a 503 just
    after it, then green; slow answers around the switch."""
    records = []
    for i in range(100):
        at = i / 10
        if at < 5:
            records.append(answered(at, "blue", latency=0.020 if at >= 4.5 else 0.002))
        elif at in (5.0, 5.1):
            records.append(unanswered(at, "connection refused"))
        elif at == 5.2:
            records.append(answered(at, "green", status=503))
        else:
            records.append(answered(at, "green", latency=0.030 if at < 5.5 else 0.004))
    return records


SWITCH = Window(T0 + 4.5, T0 + 5.5, "switch")


def test_summary_of_a_release() -> None:
    summary = summarize(a_release(), [SWITCH])
    assert summary["sent"] == 100
    assert summary["failed"] == 3
    assert summary["errors"] == {"connection refused": 2, "HTTP 503": 1}
    assert summary["answered_by"] == {"blue": 50, "green": 47}
    assert summary["windows"] == {"switch": {"sent": 10, "failed": 3}}
    inside, outside = summary["latency"]["inside"], summary["latency"]["outside"]
    # Inside: 5 blue at 20 ms, the 503 at 2 ms, 2 green at 30 ms (refusals have no latency).
    assert inside["count"] == 8
    assert inside["p50"] == pytest.approx(0.020)
    assert inside["p99"] == pytest.approx(0.030)
    assert outside["count"] == 90
    assert outside["p50"] == pytest.approx(0.003)  # 45 at 2 ms, 45 at 4 ms
    assert outside["p99"] == pytest.approx(0.004)
    text = format_summary(summary)
    assert "sent 100, failed 3" in text
    assert "window switch: sent 10, failed 3" in text
    assert "p99 30.0 ms" in text


def test_windows_sharing_a_label_add_up_and_ends_are_exclusive() -> None:
    records = [answered(float(s), "blue") for s in range(10)]
    windows = [Window(T0 + 0, T0 + 2, "kill"), Window(T0 + 5, T0 + 6, "kill")]
    summary = summarize(records, windows)
    assert summary["windows"] == {"kill": {"sent": 3, "failed": 0}}  # seconds 0, 1 and 5
    assert summary["latency"]["inside"]["count"] == 3
    assert summary["latency"]["outside"]["count"] == 7


def test_summary_of_nothing() -> None:
    summary = summarize([], [Window(0, 1, "w")])
    assert summary["sent"] == summary["failed"] == 0
    assert summary["windows"] == {"w": {"sent": 0, "failed": 0}}
    assert summary["latency"]["inside"] == {"count": 0, "p50": None, "p99": None}
    assert "p50 -" in format_summary(summary)


def test_answers_without_a_colour_count_as_other() -> None:
    record = answered(0, "blue")
    plain = LoadRecord(record.scheduled, 0.001, 200, True, None, None, None)
    assert summarize([plain, record], [])["answered_by"] == {"other": 1, "blue": 1}


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([7.0], 0, 7.0),
        ([7.0], 50, 7.0),
        ([7.0], 100, 7.0),
        ([3.0, 1.0, 2.0], 0, 1.0),
        ([3.0, 1.0, 2.0], 100, 3.0),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0], 25, 1.25),
        ([float(v) for v in range(1, 101)], 99, 99.01),
        ([5.0, 5.0, 5.0], 99, 5.0),
    ],
)
def test_percentile(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)
    assert percentile(iter(values), q) == pytest.approx(expected), "any iterable"


@pytest.mark.parametrize("q", [-1, 100.5, math.nan])
def test_percentile_refuses_q_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], q)


def test_percentile_of_nothing() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def _red_pixels(path: pathlib.Path) -> int:
    target = tuple(int(RED[i : i + 2], 16) for i in (1, 3, 5))
    with Image.open(path) as image:
        data = image.convert("RGB").tobytes()
    pixels = (data[i : i + 3] for i in range(0, len(data), 3))
    return sum(1 for p in pixels if all(abs(a - b) <= 8 for a, b in zip(p, target, strict=True)))


def _assert_png(path: pathlib.Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000
    with Image.open(path) as image:
        image.verify()
        assert image.format == "PNG"
        return image.size


def test_the_picture_of_a_release(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "release.png"
    write_picture(
        a_release(),
        path,
        moments=[Moment(T0 + 5, "switch"), Moment(T0 + 8, "old colour scaled down")],
        windows=[SWITCH],
        title="web: 1.0 -> 2.0",
    )
    assert _assert_png(path) == (1100, 650)
    assert _red_pixels(path) > 0, "the failures are drawn in red"


def test_no_red_without_failures(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "calm.png"
    records = [answered(i / 10, "blue" if i < 50 else "green") for i in range(100)]
    write_picture(records, path, moments=[Moment(T0 + 5, "switch")], windows=[SWITCH])
    _assert_png(path)
    assert _red_pixels(path) == 0


def test_a_picture_of_nothing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "empty.png"
    write_picture([], str(path), moments=[Moment(1.0, "start")])
    _assert_png(path)
