"""`greenlight wait`: follow the release in flight until it finishes, for pipelines and people.

Only the current spec counts: a terminal phase is believed once `status.observedGeneration` has
reached `metadata.generation` (an old Succeeded must not pass a spec applied a second ago), and
once the operator has taken any action annotation off (it writes status first, then removes
the annotation, so a rollback asked for just before `wait` is waited for too).

The Release is followed with a watch, never polled. Exit codes: 0 done, 1 rolled back, aborted
or failed (the operator's message is printed), 2 timed out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import time
from collections.abc import Callable, Mapping
from typing import Any

import click

from greenlight import models, naming, user_actions
from greenlight.cli import live, output
from greenlight.cli.exits import CommandFailed, ExitCode
from greenlight.cli.options import Connection, cluster_options, connect, duration_option
from greenlight.cli.output import status_of
from greenlight.models import Phase

DEFAULT_TIMEOUT = "10m"


class WaitFor(enum.StrEnum):
    SUCCEEDED = "succeeded"
    PROMOTABLE = "promotable"


_FAILED = frozenset({Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED})
# Gates passed: awaiting promotion, or already promoted by someone or by autoPromote.
_PROMOTABLE_OR_BEYOND = frozenset(
    {Phase.AWAITING_PROMOTION, Phase.POST_VERIFICATION, Phase.SUCCEEDED}
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Verdict:
    """Whether waiting is over, with which exit code, and one sentence on where things are."""

    finished: bool
    exit_code: ExitCode
    summary: str


def judge(release: Mapping[str, Any], status: models.ReleaseStatus, wait_for: WaitFor) -> Verdict:
    """Pure: what one observed state of the Release means for someone waiting on it."""
    where = f"release {naming.namespace_of(release)}/{naming.name_of(release)}"
    lag = output.generation_lag(release, status)
    if lag:
        return Verdict(finished=False, exit_code=ExitCode.OK, summary=f"{where}: {lag}")
    reached = status.phase is Phase.SUCCEEDED or (
        wait_for is WaitFor.PROMOTABLE and status.phase in _PROMOTABLE_OR_BEYOND
    )
    pending = user_actions.read_actions(output.annotations_of(release)).pending
    if (reached or status.phase in _FAILED) and pending:
        return Verdict(
            finished=False,
            exit_code=ExitCode.OK,
            summary=f"{where}: the operator has not acted on {', '.join(pending)} yet",
        )
    revision = f"revision {status.current_revision}" if status.current_revision else "it"
    if reached:
        what = {
            Phase.SUCCEEDED: f"{revision} succeeded",
            Phase.AWAITING_PROMOTION: f"{revision} passed its gates and awaits promotion",
            Phase.POST_VERIFICATION: f"{revision} was already promoted and is being verified",
        }[status.phase]
        return Verdict(finished=True, exit_code=ExitCode.OK, summary=_sentence(where, what, status))
    if status.phase in _FAILED:
        what = f"{status.phase} ({revision})"
        return Verdict(
            finished=True,
            exit_code=ExitCode.RELEASE_FAILED,
            summary=_sentence(where, what, status),
        )
    summary = _sentence(where, "", status)
    if status.waiting is not None:
        # Said when waiting times out: what the operator itself still waited for.
        summary += f" ({status.waiting.message})"
    return Verdict(finished=False, exit_code=ExitCode.OK, summary=summary)


def _sentence(where: str, what: str, status: models.ReleaseStatus) -> str:
    head = f"{where}: {what}" if what else f"{where} is {status.phase}"
    return f"{head}: {status.message}" if status.message else head


def follow(
    conn: Connection,
    name: str,
    *,
    deadline: float | None,
    reporter: live.ProgressReporter,
    judge_state: Callable[[Mapping[str, Any], models.ReleaseStatus], Verdict] | None = None,
) -> Verdict | None:
    """Shows every change of the Release until `judge_state` finds it finished or `deadline`
    passes; returns the last verdict (None without `judge_state`)."""
    warned: set[tuple[str, str]] = set()
    verdict = None
    with contextlib.closing(conn.client.follow(conn.namespace, name, deadline=deadline)) as seen:
        for release in seen:
            status = status_of(release)
            for bad in user_actions.read_actions(output.annotations_of(release)).malformed:
                if (bad.key, bad.value) not in warned:
                    warned.add((bad.key, bad.value))
                    reporter.note(_malformed_warning(release, bad))
            reporter.show(release, status)
            if judge_state is not None:
                verdict = judge_state(release, status)
                if verdict.finished:
                    break
    return verdict


def _malformed_warning(release: Mapping[str, Any], bad: user_actions.MalformedAnnotation) -> str:
    return (
        f'warning: {bad.key}="{bad.value}" on release {naming.name_of(release)} is malformed '
        f"(expected {bad.expected}); the operator ignores it. Remove it with: kubectl annotate "
        f"release {naming.name_of(release)} -n {naming.namespace_of(release)} {bad.key}-"
    )


@click.command(short_help="Wait until a release finishes (exit 0/1/2).")
@click.argument("name")
@click.option(
    "--for",
    "wait_for",
    type=click.Choice([choice.value for choice in WaitFor]),
    default=WaitFor.SUCCEEDED.value,
    show_default=True,
    help="succeeded: the release finished and traffic is on it. promotable: its pre-switch "
    "gates passed and it awaits promotion (or was already promoted).",
)
@duration_option(
    "--timeout", default=DEFAULT_TIMEOUT, help="Give up after this long (exit 2): 90s, 10m, 1h30m."
)
@cluster_options
def wait(name: str, wait_for: str, timeout: float) -> None:
    """Wait until release NAME finishes: exit 0 done, 1 rolled back/aborted/failed, 2 timeout.

    Follows the current spec (its generation), not an earlier release. Shows live progress on
    a terminal, one line per change otherwise.
    """
    target = WaitFor(wait_for)
    deadline = time.monotonic() + timeout
    with connect() as conn:
        reporter: live.ProgressReporter
        if output.stdout_is_terminal():
            reporter = live.LiveView(
                output.make_console(),
                waiting_for=f"waiting for {name} to be {target}",
                timeout=timeout,
            )
        else:
            reporter = live.PlainLines()
        with reporter:
            verdict = follow(
                conn,
                name,
                deadline=deadline,
                reporter=reporter,
                judge_state=lambda release, status: judge(release, status, target),
            )
    if verdict is None or not verdict.finished:
        where = verdict.summary if verdict else f"release {name}"
        raise CommandFailed(
            f"timed out after {output.format_seconds(timeout)}: {where}",
            exit_code=ExitCode.TIMED_OUT,
            label=None,
        )
    if verdict.exit_code is not ExitCode.OK:
        raise CommandFailed(verdict.summary, exit_code=verdict.exit_code, label=None)
    click.echo(verdict.summary)
