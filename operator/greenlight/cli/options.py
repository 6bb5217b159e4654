"""The options every command shares, and the connection they lead to.

kubectl hands a plugin its arguments as typed, so `kubectl greenlight status web -n shop` gives
`status web -n shop`: `-n/--namespace`, `--kubeconfig` and `--context` are therefore accepted
both before the subcommand and after it; the one given after wins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from greenlight.cli.exits import cluster_problem_of
from greenlight.kube.errors import KubeError

if TYPE_CHECKING:
    from greenlight.kube import releases

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass
class ClusterChoice:
    """Which kubeconfig, context and namespace the user asked for (None: kubectl's default)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def _cluster_option(*names: str, metavar: str, help: str) -> Callable[[F], F]:
    """An option kept in the context's `ClusterChoice` (the field its long name names), given
    before the subcommand or after it."""
    field = names[-1].removeprefix("--")

    def remember(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
        if value is not None:
            setattr(ctx.ensure_object(ClusterChoice), field, value)

    return click.option(*names, metavar=metavar, expose_value=False, callback=remember, help=help)


def cluster_options(command: F) -> F:
    """Adds -n/--namespace, --kubeconfig and --context to a command or to the group."""
    options = [
        _cluster_option(
            "-n",
            "--namespace",
            metavar="NAMESPACE",
            help="Namespace of the Release [default: the context's namespace, else default].",
        ),
        _cluster_option(
            "--kubeconfig",
            metavar="PATH",
            help="Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config].",
        ),
        _cluster_option(
            "--context", metavar="NAME", help="Kubeconfig context [default: its current context]."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class OutputFormat(enum.StrEnum):
    JSON = "json"
    YAML = "yaml"


def output_option(command: F) -> F:
    """Adds -o/--output json|yaml (the parameter `output_format`) to a command of data."""
    return click.option(
        "-o",
        "--output",
        "output_format",
        type=click.Choice([choice.value for choice in OutputFormat]),
        default=None,
        help="Print the data as JSON or YAML instead of a view.",
    )(command)


@dataclasses.dataclass(frozen=True)
class Connection:
    client: releases.ReleaseClient
    namespace: str


@contextlib.contextmanager
def connect() -> Iterator[Connection]:
    """The cluster the options point at; every `KubeError` in the block becomes one line."""
    # Loaded here, not at start-up: `--help` and a bad command line never pay for the client.
    from greenlight.kube import releases

    choice = click.get_current_context().find_object(ClusterChoice) or ClusterChoice()
    try:
        client = releases.ReleaseClient.connect(
            kubeconfig=choice.kubeconfig, context=choice.context
        )
    except KubeError as error:
        raise cluster_problem_of(error, server="") from None
    with client:
        try:
            yield Connection(client=client, namespace=choice.namespace or client.default_namespace)
        except KubeError as error:
            raise cluster_problem_of(error, client.server) from None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration as kubectl writes them: `90s`, `10m`, `1h30m`, `500ms`, or `30`."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not text or _DURATION_PART.sub("", text):
        raise ValueError(f"{text!r} is not a duration such as 90s, 10m or 1h30m")
    return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(text))


def duration_option(*names: str, default: str | None, help: str) -> Callable[[F], F]:
    """An option holding a duration such as `90s`, `10m` or `1h30m`, given to the command as
    seconds (a float), or None when absent."""

    def to_seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
        if value is None:
            return None
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            raise click.BadParameter(str(error), ctx=ctx, param=param) from None
        if seconds <= 0:
            raise click.BadParameter(f"{value!r} must be longer than zero", ctx=ctx, param=param)
        return seconds

    return click.option(
        *names,
        default=default,
        metavar="DURATION",
        callback=to_seconds,
        show_default=default is not None,
        help=help,
    )
