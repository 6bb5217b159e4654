"""Showing a Release as it changes, for `wait` and `status -w`.

Three ways, chosen by where stdout goes: a live view redrawn in place on a terminal (rich), one
plain line per change in a pipe or a CI log, or one JSON/YAML document per change with `-o`.
Each is a context manager with `show(release, status)`, called for every change the watch
delivers; none of them reads the cluster except through the `events` callable it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

import click
from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from greenlight import models
from greenlight.cli import output, status_view
from greenlight.cli.options import OutputFormat

EventsSource = Callable[[], Sequence[Mapping[str, Any]] | None]


class ProgressReporter(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def show(self, release: Mapping[str, Any], status: models.ReleaseStatus) -> None: ...

    def note(self, line: str) -> None:
        """A remark that is not a change of the Release (e.g. a warning)."""


class _StdoutWriter:
    """Writes as it is shown, so has nothing to open or close; remarks go to stderr."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def note(self, line: str) -> None:
        click.echo(line, err=True)


class PlainLines(_StdoutWriter):
    """One line per change, prefixed with the time since the start: for logs and pipes."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._last_line = ""

    def show(self, release: Mapping[str, Any], status: models.ReleaseStatus) -> None:
        line = output.progress_line(release, status)
        if line != self._last_line:
            self._last_line = line
            click.echo(f"[{output.format_seconds(time.monotonic() - self._started)}] {line}")


class DocumentStream(_StdoutWriter):
    """The whole Release as one JSON line or YAML document per change (`status -w -o ...`)."""

    def __init__(self, output_format: OutputFormat | str) -> None:
        self._format = output_format

    def show(self, release: Mapping[str, Any], status: models.ReleaseStatus) -> None:
        output.print_document_stream(dict(release), self._format)


class LiveView:
    """The status view redrawn in place, with a spinner and the time waited so far."""

    def __init__(
        self,
        console: Console,
        *,
        waiting_for: str,
        timeout: float | None,
        events: EventsSource | None = None,
    ) -> None:
        self._console = console
        self._waiting_for = waiting_for
        self._timeout = timeout
        self._events_source = events
        self._started = time.monotonic()
        self._spinner = Spinner("dots", style="cyan")
        self._release: Mapping[str, Any] | None = None
        self._status: models.ReleaseStatus | None = None
        self._events: Sequence[Mapping[str, Any]] | None = None
        self._finished = False
        self._live = Live(
            console=console,
            get_renderable=self._render,
            refresh_per_second=4,
            transient=False,
        )

    def __enter__(self) -> Self:
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finished = True  # the last frame stays on screen, without the spinner
        self._live.refresh()
        self._live.stop()

    def show(self, release: Mapping[str, Any], status: models.ReleaseStatus) -> None:
        if self._events_source is not None:
            self._events = self._events_source()
        self._release, self._status = release, status
        self._live.refresh()

    def note(self, line: str) -> None:
        self._live.console.print(Text(line, style="yellow"))

    def _render(self) -> RenderableType:
        footer = None if self._finished else self._footer()
        if self._release is None or self._status is None:
            return footer or Text("")
        return status_view.release_view(
            self._release, self._status, events=self._events, now=output.now_utc(), footer=footer
        )

    def _footer(self) -> RenderableType:
        waited = output.format_seconds(time.monotonic() - self._started)
        limit = f" of {output.format_seconds(self._timeout)}" if self._timeout else ""
        line = Table.grid(padding=(0, 1))
        line.add_row(self._spinner, Text(f"{self._waiting_for} ({waited}{limit})", style="dim"))
        return line
