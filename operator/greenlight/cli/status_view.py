"""The detailed view of one Release: what `greenlight status` prints and the live views redraw.

Pure: a function of the Release, its parsed status, its Events and the time. The sections are
the questions a person asks during a release: where is it and why, where is traffic, how far
are the gates, what do the conditions say, and what happened last.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from greenlight import models, naming, user_actions
from greenlight.cli import output

LAST_EVENTS = 5


def release_view(
    release: Mapping[str, Any],
    status: models.ReleaseStatus,
    *,
    events: Sequence[Mapping[str, Any]] | None,
    now: datetime.datetime,
    footer: RenderableType | None = None,
) -> RenderableType:
    """Everything about one Release; `events=None` leaves the Events section out."""
    parts: list[RenderableType] = [_headline(release, status), _facts(release, status, now)]
    if status.gates:
        parts += [Text(""), _gates_table(release, status, now)]
    if status.conditions:
        parts += [Text(""), _conditions_table(status, now)]
    if events is not None:
        parts += [Text(""), _events_table(events, now)]
    if footer is not None:
        parts += [Text(""), footer]
    return Group(*parts)


def _headline(release: Mapping[str, Any], status: models.ReleaseStatus) -> Text:
    headline = Text.assemble(
        ("Release ", "bold"),
        (f"{naming.namespace_of(release)}/{naming.name_of(release)}", "bold"),
        "  ",
        output.phase_text(status.phase),
    )
    lag = output.generation_lag(release, status)
    if lag:
        headline.append(f"  ({lag})", style="yellow")
    if status.message:
        headline.append(f"\n{status.message}")
    if status.waiting is not None:
        headline.append(f"\n{status.waiting.message}", style="yellow")
    return headline


def _facts(
    release: Mapping[str, Any], status: models.ReleaseStatus, now: datetime.datetime
) -> Table:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    facts.add_row("Active", _traffic(status))
    facts.add_row(
        "Revisions",
        f"current {status.current_revision or '-'}, stable {status.stable_revision or '-'}",
    )
    facts.add_row("Images", ", ".join(output.spec_images(release)) or "-")
    if status.release_started_at:
        facts.add_row("Started", f"{output.age(status.release_started_at, now)} ago")
    if status.phase_started_at:
        facts.add_row(f"In {status.phase}", output.age(status.phase_started_at, now))
    annotations = output.annotations_of(release)
    requests = user_actions.read_actions(annotations)
    if requests.pending:
        facts.add_row("Pending", ", ".join(f"{k}={annotations[k]}" for k in requests.pending))
    for bad in requests.malformed:
        facts.add_row(
            Text("Malformed", style="bold red"),
            f'{bad.key}="{bad.value}" (expected {bad.expected}); the operator ignores it',
        )
    return facts


def _traffic(status: models.ReleaseStatus) -> str:
    if not status.active_color:
        return "none yet (no revision has succeeded)"
    line = f"{status.active_color}"
    if status.stable_color and status.stable_color != status.active_color:
        line += f", stable in {status.stable_color}"
    if status.preview_color and status.preview_color != status.active_color:
        line += f"; preview {status.preview_color}"
    if status.scale_down_color:
        line += f"; {status.scale_down_color} kept warm until it is scaled down"
    return line


def _gates_table(
    release: Mapping[str, Any], status: models.ReleaseStatus, now: datetime.datetime
) -> Table:
    thresholds = output.gate_thresholds(release, status)
    rows: list[list[output.Cell]] = []
    for gate in status.gates:
        needed = thresholds.get(gate.name)
        rows.append(
            [
                gate.name,
                Text(str(gate.phase), style=output.GATE_STYLES.get(gate.phase, "")),
                f"{gate.successes}/{needed}" if needed else str(gate.successes),
                str(gate.failures),
                f"{output.age(gate.last_probe_time, now)} ago" if gate.last_probe_time else "-",
                gate.last_message,
            ]
        )
    headers = ["GATE", "PHASE", "PASSES", "FAILURES", "PROBED", "LAST RESULT"]
    return output.plain_table(headers, rows, fold_last=True)


def _conditions_table(status: models.ReleaseStatus, now: datetime.datetime) -> Table:
    rows: list[list[output.Cell]] = [
        [
            condition.type,
            condition.status,
            condition.reason or "-",
            output.age(condition.last_transition_time, now),
            condition.message,
        ]
        for condition in status.conditions
    ]
    headers = ["CONDITION", "STATUS", "REASON", "SINCE", "MESSAGE"]
    return output.plain_table(headers, rows, fold_last=True)


def _events_table(events: Sequence[Mapping[str, Any]], now: datetime.datetime) -> RenderableType:
    if not events:
        return Text("No events.", style="dim")
    rows: list[list[output.Cell]] = []
    for event in events[-LAST_EVENTS:]:
        when = (
            event.get("lastTimestamp")
            or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp")
        )
        kind = str(event.get("type") or "")
        rows.append(
            [
                f"{output.age(when, now)} ago" if when else "-",
                Text(kind, style="yellow" if kind == "Warning" else ""),
                str(event.get("reason") or ""),
                str(event.get("message") or ""),
            ]
        )
    return output.plain_table(["LAST SEEN", "TYPE", "REASON", "EVENT"], rows, fold_last=True)
