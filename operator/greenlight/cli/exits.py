"""The exit codes of `greenlight`, which pipelines branch on, and the one way a command fails.

A command that cannot do what was asked raises `CommandFailed` with one sentence saying what is
wrong and what to do; `main` prints it on one line to stderr and exits with its code. Nothing
else reaches the user as a traceback.
"""

from __future__ import annotations

import enum

import click

from greenlight import models
from greenlight.kube import errors


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


def cluster_problem_of(error: errors.KubeError, server: str) -> CommandFailed:
    """The CLI's sentence for a failure of the cluster adapter: what is wrong, what to do."""
    where = f'namespace "{error.namespace}"' if error.namespace else "any namespace"
    if isinstance(error, errors.KubeconfigError):
        text = error.message
        if error.verb:  # the file was read, but the client refused its credentials
            text = f"the kubeconfig's credentials are not usable: {error.message}"
    elif isinstance(error, errors.Unreachable) and error.verb == "watch":
        text = (
            f"lost the connection to the cluster at {server} while following "
            f"release {error.name}: {error.message}"
        )
    elif isinstance(error, errors.Unreachable):
        text = (
            f"cannot reach the cluster at {server}: {error.message}; check that it is running "
            "and that --kubeconfig/--context point at it"
        )
    elif isinstance(error, errors.Forbidden) and error.status == 401:
        text = (
            f"the cluster at {server} did not accept your credentials (401 Unauthorized); "
            "log in again or pick another --context"
        )
    elif isinstance(error, errors.Forbidden):
        text = (
            f"not allowed to {error.verb} releases.{models.GROUP} in {where} (403 Forbidden: "
            f"{error.message}); ask your cluster admin for that right"
        )
    elif isinstance(error, errors.NotFound) and error.verb == "follow":
        text = error.message
    elif isinstance(error, errors.NotFound) and error.name and not error.no_such_resource:
        text = (
            f'release "{error.name}" not found in {where}; list them with: '
            f"greenlight get -n {error.namespace} (or -A for every namespace)"
        )
    elif isinstance(error, errors.NotFound):
        text = (
            f"the cluster at {server} has no {models.PLURAL}.{models.GROUP} resource; "
            "install Greenlight's CRD first (or pick another --context)"
        )
    else:
        text = (
            f"the API server refused to {error.verb} {error.resource} in {where}: "
            f"{error.status} {error.message}"
        )
    return cluster_problem(text)
