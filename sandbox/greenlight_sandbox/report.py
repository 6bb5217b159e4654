"""What a load run shows: figures (counts, failures, latency percentiles) and a picture.

Pure functions of the load generator's records (:class:`greenlight_sandbox.loadgen.LoadRecord`)
plus the moments (the switch, a pod killed) and windows (the release in flight) a caller marks
on the same clock, ``time.monotonic()``. The picture: requests answered per second stacked by
the colour that answered, failures per second in red on top, the client latency of each
request below (a red tick for each request that got no answer), the moments as vertical lines
and the windows shaded.

matplotlib is imported only by :func:`write_picture`, with its Agg canvas: no display, no
pyplot state, safe off the main thread.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from greenlight_sandbox.loadgen import LoadRecord

BLUE = "#1f77b4"
GREEN = "#2ca02c"
OTHER = "#9e9e9e"
RED = "#d62728"
WINDOW = "#f2c94c"


@dataclasses.dataclass(frozen=True)
class Moment:
    """An instant worth a line on the picture, e.g. "switch" (time.monotonic())."""

    time: float
    label: str


@dataclasses.dataclass(frozen=True)
class Window:
    """A span worth shading, e.g. "release" from its start to its end (time.monotonic())."""

    start: float
    end: float
    label: str

    def __contains__(self, instant: float) -> bool:
        return self.start <= instant < self.end


class Counts(TypedDict):
    sent: int
    failed: int


class Latency(TypedDict):
    count: int  # answered requests measured
    p50: float | None  # seconds; None when nothing was answered
    p99: float | None


class Summary(TypedDict):
    sent: int
    failed: int
    errors: dict[str, int]  # failures by their error, most frequent first
    answered_by: dict[str, int]  # successful answers by X-App-Color ("other" when absent)
    windows: dict[str, Counts]  # by window label (windows sharing a label add up)
    latency: dict[str, Latency]  # "inside" any window, "outside" all of them


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0 <= q <= 100) of ``values``, interpolating linearly between the
    two nearest ranks (as numpy does by default). Raises ValueError for no values."""
    if not 0 <= q <= 100:  # also refuses NaN
        raise ValueError(f"q must be within [0, 100], not {q}")
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * q / 100
    below = math.floor(rank)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


def _latency(values: Sequence[float]) -> Latency:
    if not values:
        return Latency(count=0, p50=None, p99=None)
    return Latency(count=len(values), p50=percentile(values, 50), p99=percentile(values, 99))


def summarize(records: Iterable[LoadRecord], windows: Iterable[Window]) -> Summary:
    """Counts and client latency of a run; a request belongs to a window by its planned time."""
    records = list(records)
    windows = list(windows)
    errors: collections.Counter[str] = collections.Counter()
    answered_by: collections.Counter[str] = collections.Counter()
    by_window: dict[str, Counts] = {w.label: Counts(sent=0, failed=0) for w in windows}
    inside: list[float] = []
    outside: list[float] = []
    for record in records:
        if record.ok:
            answered_by[record.color or "other"] += 1
        else:
            errors[record.error or "failed"] += 1
        labels = {w.label for w in windows if record.scheduled in w}
        for label in labels:
            by_window[label]["sent"] += 1
            by_window[label]["failed"] += not record.ok
        if record.latency is not None:
            (inside if labels else outside).append(record.latency)
    return Summary(
        sent=len(records),
        failed=sum(errors.values()),
        errors=dict(errors.most_common()),
        answered_by=dict(answered_by.most_common()),
        windows=by_window,
        latency={"inside": _latency(inside), "outside": _latency(outside)},
    )


def format_summary(summary: Summary) -> str:
    """The summary as a few lines of text."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.1f} ms"

    lines = [f"sent {summary['sent']}, failed {summary['failed']}"]
    if summary["answered_by"]:
        lines.append(
            "answered by: " + ", ".join(f"{c} {n}" for c, n in summary["answered_by"].items())
        )
    if summary["errors"]:
        lines.append("errors: " + ", ".join(f"{e} {n}" for e, n in summary["errors"].items()))
    for label, counts in summary["windows"].items():
        lines.append(f"window {label}: sent {counts['sent']}, failed {counts['failed']}")
    for where, latency in summary["latency"].items():
        if latency["count"] or where == "outside":
            lines.append(
                f"latency {where} windows: p50 {ms(latency['p50'])}, p99 {ms(latency['p99'])}"
                f" ({latency['count']} answers)"
            )
    return "\n".join(lines)


def _colour_of(record: LoadRecord) -> str:
    if not record.ok:
        return "failed"
    return record.color if record.color in ("blue", "green") else "other"


def write_picture(
    records: Iterable[LoadRecord],
    path: str | os.PathLike[str],
    *,
    moments: Iterable[Moment] = (),
    windows: Iterable[Window] = (),
    title: str = "",
) -> None:
    """Draw the run into a PNG at ``path``: x in seconds from the first record's planned time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    records = sorted(records, key=lambda record: record.scheduled)
    moments = list(moments)
    windows = list(windows)
    marks = [m.time for m in moments] + [w.start for w in windows]
    origin = records[0].scheduled if records else min(marks, default=0.0)

    figure = Figure(figsize=(11, 6.5), layout="constrained")
    FigureCanvasAgg(figure)
    rates, latencies = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])

    # Requests per second, by the second of their planned send.
    seconds = int(records[-1].scheduled - origin) + 1 if records else 0
    per_second = {kind: [0] * seconds for kind in ("blue", "green", "other", "failed")}
    for record in records:
        per_second[_colour_of(record)][int(record.scheduled - origin)] += 1
    starts = list(range(seconds))
    bottom = [0] * seconds
    for kind, colour, label in (
        ("blue", BLUE, "answered by blue"),
        ("green", GREEN, "answered by green"),
        ("other", OTHER, "answered, no colour"),
        ("failed", RED, "failed"),
    ):
        counts = per_second[kind]
        if any(counts):  # no legend entry (nor red) for what did not happen
            rates.bar(
                starts, counts, width=1.0, align="edge", bottom=bottom, color=colour, label=label
            )
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    rates.set_ylabel("requests per second")
    if records:
        rates.legend(loc="lower left", fontsize="small", framealpha=0.9)
    else:
        rates.text(0.5, 0.5, "no requests", ha="center", transform=rates.transAxes)

    # Client latency of each answered request, coloured like the bars.
    palette = {"blue": BLUE, "green": GREEN, "other": OTHER, "failed": RED}
    answered = [r for r in records if r.latency is not None]
    latencies.scatter(
        [r.scheduled - origin for r in answered],
        [(r.latency or 0.0) * 1000 for r in answered],
        s=4,
        c=[palette[_colour_of(r)] for r in answered],
        linewidths=0,
    )
    # Requests that got no answer at all (refused, reset, timed out) have no latency: a red
    # tick along the top of the panel marks each.
    unanswered = [r.scheduled - origin for r in records if r.latency is None]
    if unanswered:
        latencies.scatter(
            unanswered,
            [0.97] * len(unanswered),
            marker="|",
            s=40,
            color=RED,
            transform=latencies.get_xaxis_transform(),
        )
    latencies.margins(y=0.15)  # room for the ticks above the slowest answers
    latencies.set_ylim(bottom=0)
    latencies.set_ylabel("latency (ms)")
    latencies.set_xlabel("seconds from the first request")

    for window in windows:
        for axes in (rates, latencies):
            # Behind the bars and points (zorder 0), so that it does not tint their colours.
            axes.axvspan(
                window.start - origin, window.end - origin, color=WINDOW, alpha=0.3, zorder=0
            )
        rates.text(
            (window.start + window.end) / 2 - origin,
            1.01,
            window.label,
            ha="center",
            va="bottom",
            fontsize="small",
            transform=rates.get_xaxis_transform(),
        )
    for moment in moments:
        for axes in (rates, latencies):
            axes.axvline(moment.time - origin, color="black", linestyle="--", linewidth=1)
        rates.text(
            moment.time - origin,
            0.98,
            f" {moment.label}",
            rotation=90,
            ha="right",
            va="top",
            fontsize="small",
            transform=rates.get_xaxis_transform(),
        )
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=100)
