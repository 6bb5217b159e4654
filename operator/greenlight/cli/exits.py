"""The exit codes of `greenlight`, which pipelines branch on, and the one way a command fails.

A command that cannot do what was asked raises `CommandFailed` with one sentence saying what is
wrong and what to do; `main` prints it on one line to stderr and exits with its code. Nothing
else reaches the user as a traceback.
"""

from __future__ import annotations

import enum

import click


class ExitCode(enum.IntEnum):
    """Documented in docs/cli.md; change only additively."""

    OK = 0
    # `wait`: the release rolled back, was aborted or failed. Actions: refused in this state.
    RELEASE_FAILED = 1
    # `wait`: the timeout passed before the release finished.
    TIMED_OUT = 2
    # The cluster could not be asked: no kubeconfig, unreachable, 401/403, no such Release,
    # the CRD missing, or a Release whose status or annotations this CLI cannot read.
    CLUSTER_PROBLEM = 3
    # A mistake in the command line itself (unknown option, bad value).
    USAGE = 4
    # Interrupted with Ctrl-C.
    INTERRUPTED = 130


class CommandFailed(Exception):
    """Stops the command with one line on stderr (`label: message`) and `exit_code`."""

    def __init__(self, message: str, *, exit_code: ExitCode, label: str | None = "error") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.label = label

    def show(self) -> None:
        prefix = f"{self.label}: " if self.label else ""
        # One line, whatever a library put in the message.
        click.echo(prefix + " ".join(self.message.split()), err=True)


def refused(message: str) -> CommandFailed:
    return CommandFailed(message, exit_code=ExitCode.RELEASE_FAILED)


def cluster_problem(message: str) -> CommandFailed:
    return CommandFailed(message, exit_code=ExitCode.CLUSTER_PROBLEM)
