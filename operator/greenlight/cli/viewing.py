"""`greenlight status`, `history` and `get`: looking at Releases without changing them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from greenlight import models
from greenlight.cli import live, output, status_view
from greenlight.cli.exits import CommandFailed
from greenlight.cli.options import (
    Connection,
    cluster_options,
    connect,
    duration_option,
    output_option,
)
from greenlight.cli.output import status_of
from greenlight.cli.wait import follow
from greenlight.kube.errors import Forbidden


@click.command(short_help="Show where a release is; -w to follow it.")
@click.argument("name")
@click.option(
    "-w",
    "--watch",
    is_flag=True,
    help="Keep showing the Release as it changes (a watch; Ctrl-C to stop).",
)
@duration_option("--timeout", default=None, help="With -w: stop watching after this long (exit 0).")
@output_option
@cluster_options
def status(name: str, watch: bool, timeout: float | None, output_format: str | None) -> None:
    """Where release NAME is: phase, colours, revisions, gates, conditions, last Events."""
    with connect() as conn:
        if watch:
            _watch_status(conn, name, timeout=timeout, output_format=output_format)
            return
        release = conn.client.get(conn.namespace, name)
        release_status = status_of(release)
        if output_format:
            output.print_data(release, output_format)
            return
        view = status_view.release_view(
            release, release_status, events=_events_or_none(conn, name), now=output.now_utc()
        )
        output.print_view(view)


def _watch_status(
    conn: Connection, name: str, *, timeout: float | None, output_format: str | None
) -> None:
    reporter: live.ProgressReporter
    if output_format:
        reporter = live.DocumentStream(output_format)
    elif output.stdout_is_terminal():
        reporter = live.LiveView(
            output.make_console(),
            waiting_for=f"watching {name} (Ctrl-C to stop)",
            timeout=timeout,
            events=lambda: _events_or_none(conn, name),
        )
    else:
        reporter = live.PlainLines()
    deadline = time.monotonic() + timeout if timeout else None
    with reporter:
        follow(conn, name, deadline=deadline, reporter=reporter)


def _events_or_none(conn: Connection, name: str) -> Sequence[Mapping[str, Any]] | None:
    """The Release's Events; None (the section left out) when they cannot be read."""
    try:
        return conn.client.events(conn.namespace, name)
    except Forbidden:
        return None


@click.command(short_help="List the revisions of a release.")
@click.argument("name")
@output_option
@cluster_options
def history(name: str, output_format: str | None) -> None:
    """The revisions of release NAME, newest first: images, outcome, times and reasons."""
    with connect() as conn:
        release = conn.client.get(conn.namespace, name)
    release_status = status_of(release)
    if output_format:
        output.print_data(output.history_data(release_status), output_format)
        return
    if not release_status.history:
        click.echo(f"release {conn.namespace}/{name} has no history yet", err=True)
        return
    output.print_view(output.history_table(release_status, now=output.now_utc()))


@click.command(name="get", short_help="List Releases as a table.")
@click.option(
    "-A", "--all-namespaces", is_flag=True, help="Releases of every namespace, not just one."
)
@output_option
@cluster_options
def get_releases(all_namespaces: bool, output_format: str | None) -> None:
    """Every Release as a table: phase, traffic, revisions, gates, image, message."""
    with connect() as conn:
        namespace = None if all_namespaces else conn.namespace
        found, _ = conn.client.list(namespace)
    if output_format:
        output.print_data(output.releases_data(found), output_format)
        return
    if not found:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        click.echo(f"No releases found in {where}.", err=True)
        return
    rows = [(release, _status_or_problem(release)) for release in found]
    table = output.releases_table(rows, show_namespace=all_namespaces, now=output.now_utc())
    output.print_view(table)


def _status_or_problem(release: Mapping[str, Any]) -> models.ReleaseStatus | str:
    """One unreadable status must not hide the other rows of `get`."""
    try:
        return status_of(release)
    except CommandFailed as problem:
        return problem.message
