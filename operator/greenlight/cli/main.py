"""The `greenlight` command group: its subcommands, its shared options and its exit codes.

Also the kubectl plugin: linked as `kubectl-greenlight` on the PATH it runs as
`kubectl greenlight ...`. Every failure ends as one line on stderr and a documented exit code
(`greenlight.cli.exits.ExitCode`); set GREENLIGHT_DEBUG=1 to see the traceback of an
unexpected error instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from greenlight.cli import actions, viewing, wait
from greenlight.cli.exits import CommandFailed, ExitCode
from greenlight.cli.options import cluster_options


class GreenlightGroup(click.Group):
    """A group that maps every way of ending to `ExitCode`, in-process and as a program."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        try:
            returned = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except CommandFailed as failure:
            failure.show()
            sys.exit(failure.exit_code)
        except click.UsageError as error:
            error.show()
            sys.exit(ExitCode.USAGE)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except BrokenPipeError:
            # `greenlight get -A | head`: the reader had enough; say nothing more at exit.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(ExitCode.OK)
        except Exception as error:
            if os.environ.get("GREENLIGHT_DEBUG"):
                raise
            click.echo(
                f"error: unexpected {type(error).__name__}: {error} "
                "(set GREENLIGHT_DEBUG=1 to see where, and report it)",
                err=True,
            )
            sys.exit(ExitCode.CLUSTER_PROBLEM)
        sys.exit(returned if isinstance(returned, int) else ExitCode.OK)


@click.group(cls=GreenlightGroup, context_settings={"help_option_names": ["-h", "--help"]})
@cluster_options
def cli() -> None:
    """Follow and steer Greenlight's blue-green Releases.

    \b
    Exit codes: 0 done; 1 the release rolled back, aborted or failed, or the
    action was refused; 2 `wait` timed out; 3 the cluster or the Release could
    not be read (kubeconfig, unreachable, 401/403, not found); 4 bad usage.
    """


cli.add_command(viewing.status)
cli.add_command(wait.wait)
cli.add_command(actions.promote)
cli.add_command(actions.abort)
cli.add_command(actions.rollback)
cli.add_command(viewing.history)
cli.add_command(viewing.get_releases)


def _program_name() -> str:
    invoked = os.path.basename(sys.argv[0]) if sys.argv else "greenlight"
    return "kubectl greenlight" if invoked.startswith("kubectl-") else "greenlight"


def main() -> NoReturn:
    cli.main(prog_name=_program_name())
