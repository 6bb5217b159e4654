"""How `greenlight` shows things: data as JSON or YAML, tables and lines for people.

Everything here is a pure function of a Release (and the time, passed in) except the
`print_*` functions, which write to stdout. Views use rich; when stdout is not a
terminal rich drops colour, and plain progress lines are written without it.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import click
import yaml
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from greenlight import models, naming, user_actions
from greenlight.cli.exits import cluster_problem
from greenlight.cli.options import OutputFormat
from greenlight.models import GatePhase, Phase
from greenlight.naming import name_of, namespace_of

JsonObject = Mapping[str, Any]

# In a pipe or a CI log nothing is cut: rows are as long as they need (trailing blanks dropped).
PIPE_WIDTH = 1000

PHASE_STYLES = {
    Phase.PENDING: "dim",
    Phase.PROGRESSING: "cyan",
    Phase.VERIFYING: "cyan",
    Phase.AWAITING_PROMOTION: "magenta",
    Phase.POST_VERIFICATION: "cyan",
    Phase.SUCCEEDED: "green",
    Phase.ROLLED_BACK: "yellow",
    Phase.ABORTED: "yellow",
    Phase.FAILED: "bold red",
}
GATE_STYLES = {
    GatePhase.PENDING: "dim",
    GatePhase.RUNNING: "cyan",
    GatePhase.PASSED: "green",
    GatePhase.FAILED: "bold red",
}


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def make_console() -> Console:
    """A console on stdout; very wide when stdout is a pipe, so that rows are never cut."""
    width = None if stdout_is_terminal() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(width=width, highlight=False)


def print_view(renderable: RenderableType) -> None:
    """A table or view on stdout: coloured on a terminal, plain text without trailing blanks
    (rich pads every cell) in a pipe."""
    console = make_console()
    if stdout_is_terminal():
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_data(data: Any, output: OutputFormat | str) -> None:
    """One document: JSON (indented) or YAML (keys in their order)."""
    if OutputFormat(output) is OutputFormat.JSON:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


def print_document_stream(data: Any, output: OutputFormat | str) -> None:
    """One document of a stream (`status -w -o ...`): JSON on one line, YAML after `---`."""
    if OutputFormat(output) is OutputFormat.JSON:
        click.echo(json.dumps(data, separators=(",", ":")))
    else:
        click.echo("---")
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


# ---------------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------------


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


def format_seconds(seconds: float) -> str:
    """A short span as kubectl shows ages: 45s, 3m12s, 2h5m, 4d."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes}m{rest}s" if minutes < 10 and rest else f"{minutes}m"
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h{rest // 60}m" if hours < 10 and rest >= 60 else f"{hours}h"
    return f"{seconds // 86400}d"


def age(timestamp: str | datetime.datetime | None, now: datetime.datetime) -> str:
    moment = models.parse_time(timestamp)
    return format_seconds((now - moment).total_seconds()) if moment else "-"


def duration(begun: datetime.datetime | None, ended: datetime.datetime | None) -> str:
    if begun is None or ended is None:
        return "-"
    return format_seconds((ended - begun).total_seconds())


def phase_text(phase: Phase) -> Text:
    return Text(str(phase), style=PHASE_STYLES.get(phase, ""))


def generation_of(release: JsonObject) -> int:
    generation = (release.get("metadata") or {}).get("generation")
    return int(generation) if isinstance(generation, int) else 0


def annotations_of(release: JsonObject) -> dict[str, str]:
    raw = (release.get("metadata") or {}).get("annotations") or {}
    return {str(key): str(value) for key, value in raw.items()}


def status_of(release: JsonObject) -> models.ReleaseStatus:
    """The Release's status, read as the operator and the API read it; one this CLI cannot read
    (a newer operator's, or edited by hand) is refused in one line, not a traceback."""
    status, problem = models.read_status(release)
    if problem:
        raise cluster_problem(
            f"release {namespace_of(release)}/{name_of(release)} has a status this greenlight "
            f"cannot read ({problem}); upgrade the CLI to the operator's version"
        )
    return status


def spec_images(release: JsonObject) -> list[str]:
    """The images the spec asks for now (the revision being or last released)."""
    return list(naming.images_of((release.get("spec") or {}).get("template")))


def gate_thresholds(release: JsonObject, status: models.ReleaseStatus) -> dict[str, int]:
    """Consecutive passes each gate needs, read leniently from the spec; a name both lists use
    is the gate of the list being run, as `ReleaseSpec.gates_by_name` says."""
    spec = release.get("spec") or {}
    pre = list(spec.get("gates") or [])
    post = list((spec.get("verification") or {}).get("gates") or [])
    gates = pre + post if status.phase is Phase.POST_VERIFICATION else post + pre
    default = models.GateSpec.model_fields["success_threshold"].default
    return {
        str(gate.get("name")): int(gate.get("successThreshold") or default)
        for gate in gates
        if isinstance(gate, dict) and gate.get("name")
    }


def gate_progress(gate: models.GateStatus, thresholds: Mapping[str, int]) -> str:
    """`readyz 2/3`, `readyz passed`, `readyz FAILED`: one gate in a few characters."""
    if gate.phase is GatePhase.PASSED:
        return f"{gate.name} passed"
    if gate.phase is GatePhase.FAILED:
        return f"{gate.name} FAILED"
    if gate.phase is GatePhase.PENDING and not gate.successes:
        return f"{gate.name} pending"
    needed = thresholds.get(gate.name)
    return f"{gate.name} {gate.successes}/{needed}" if needed else f"{gate.name} {gate.successes}"


def gates_summary(status: models.ReleaseStatus) -> str:
    """`2/3 passed` for a table cell; `-` when no gate is being run."""
    if not status.gates:
        return "-"
    passed = sum(1 for gate in status.gates if gate.phase is GatePhase.PASSED)
    failed = sum(1 for gate in status.gates if gate.phase is GatePhase.FAILED)
    summary = f"{passed}/{len(status.gates)} passed"
    return f"{summary}, {failed} failed" if failed else summary


def generation_lag(release: JsonObject, status: models.ReleaseStatus) -> str:
    """Why the status is not about the current spec yet, or "" when it is."""
    generation = generation_of(release)
    if status.observed_generation >= generation:
        return ""
    if not status.observed_generation:
        return "the operator has not picked this release up yet"
    return (
        f"the operator has not acted on generation {generation} yet "
        f"(status is of generation {status.observed_generation})"
    )


def progress_line(release: JsonObject, status: models.ReleaseStatus) -> str:
    """One plain line for a log: where the release is and why, without colour."""
    where = f"{namespace_of(release)}/{name_of(release)}"
    lag = generation_lag(release, status)
    if lag:
        return f"{where} {lag}"
    parts = [f"{where} {status.phase}"]
    if status.current_revision:
        colour = f" ({status.preview_color})" if status.preview_color else ""
        parts.append(f"revision {status.current_revision}{colour}")
    if status.gates:
        thresholds = gate_thresholds(release, status)
        parts.append("gates " + ", ".join(gate_progress(g, thresholds) for g in status.gates))
    line = " ".join(parts)
    annotations = annotations_of(release)
    pending = user_actions.read_actions(annotations).pending
    if pending:
        asked = ", ".join(f"{key}={annotations[key]}" for key in pending)
        line += f", {asked} not yet acted on"
    line = f"{line}: {status.message}" if status.message else line
    return f"{line} ({status.waiting.message})" if status.waiting is not None else line


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


Cell = Text | str


def plain_table(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, fold_last: bool
) -> Table:
    """A kubectl-like table: no borders, every column as wide as its widest cell, and only the
    last one (a message) cut (`fold_last=False`) or wrapped (`fold_last=True`) to fit."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    last = len(headers) - 1
    for index, header in enumerate(headers):
        if index == last:
            overflow: Literal["fold", "ellipsis"] = "fold" if fold_last else "ellipsis"
            table.add_column(header, overflow=overflow, no_wrap=not fold_last, ratio=1)
        else:
            widest = max([cell_len(header)] + [_cell_width(row[index]) for row in rows])
            table.add_column(header, no_wrap=True, min_width=widest)
    for row in rows:
        table.add_row(*row)
    return table


def _cell_width(cell: Cell) -> int:
    text = cell.plain if isinstance(cell, Text) else cell
    return max((cell_len(line) for line in text.splitlines()), default=0)


def releases_table(
    rows: Iterable[tuple[JsonObject, models.ReleaseStatus | str]],
    *,
    show_namespace: bool,
    now: datetime.datetime,
) -> Table:
    """`greenlight get`: kubectl's columns, and what a person asks next (gates, message).

    A row whose status could not be read carries the problem (a str) instead of a status.
    """
    headers = ["NAME", "PHASE", "ACTIVE", "REVISION", "STABLE", "GATES", "IMAGE", "AGE", "MESSAGE"]
    cells: list[list[Cell]] = []
    for release, status in rows:
        prefix: list[Cell] = [namespace_of(release)] if show_namespace else []
        created = age((release.get("metadata") or {}).get("creationTimestamp"), now)
        images = ", ".join(spec_images(release)) or "-"
        if isinstance(status, str):
            cells.append(
                [*prefix, name_of(release), "Unknown", "-", "-", "-", "-", images, created, status]
            )
            continue
        cells.append(
            [
                *prefix,
                name_of(release),
                phase_text(status.phase),
                status.active_color or "-",
                str(status.current_revision or "-"),
                str(status.stable_revision or "-"),
                gates_summary(status),
                images,
                created,
                generation_lag(release, status) or status.message,
            ]
        )
    return plain_table((["NAMESPACE"] if show_namespace else []) + headers, cells, fold_last=False)


def history_table(status: models.ReleaseStatus, *, now: datetime.datetime) -> Table:
    """`greenlight history`: newest first, the stable and current revisions marked."""
    headers = ["REVISION", "", "OUTCOME", "COLOR", "IMAGES", "STARTED", "DURATION", "REASON"]
    cells: list[list[Cell]] = []
    for entry in status.history:
        marks = []
        if entry.revision == status.stable_revision:
            marks.append("stable")
        if entry.revision == status.current_revision and entry.revision != status.stable_revision:
            marks.append("current")
        cells.append(
            [
                str(entry.revision),
                ",".join(marks),
                Text(str(entry.outcome), style=_outcome_style(entry.outcome)),
                entry.color or "-",
                "\n".join(entry.images) or "-",
                f"{age(entry.started_at, now)} ago" if entry.started_at else "-",
                duration(entry.started_at, entry.finished_at),
                entry.reason,
            ]
        )
    return plain_table(headers, cells, fold_last=True)


def _outcome_style(outcome: models.Outcome) -> str:
    return {
        models.Outcome.SUCCEEDED: "green",
        models.Outcome.IN_PROGRESS: "cyan",
        models.Outcome.FAILED: "bold red",
        models.Outcome.ROLLED_BACK: "yellow",
        models.Outcome.ABORTED: "yellow",
    }.get(outcome, "dim")


def history_data(status: models.ReleaseStatus) -> list[dict[str, Any]]:
    """`history -o json|yaml`: the entries as the API has them (camelCase)."""
    return [entry.model_dump(mode="json", by_alias=True) for entry in status.history]


def releases_data(releases: Sequence[JsonObject]) -> dict[str, Any]:
    """`get -o json|yaml`: a List, as `kubectl get -o json` prints one."""
    return {"apiVersion": "v1", "kind": "List", "items": list(releases)}
