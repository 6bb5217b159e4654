"""`greenlight promote`, `abort` and `rollback`: ask the operator to act, through annotations.

The operator is the only thing that moves traffic: these commands write the contract's
annotation with a merge patch and say what will happen. Whether an action makes sense now is
decided by `greenlight.user_actions`, shared with the API service so both refuse the same
things with the same words. An action is also refused while another tool has left a malformed
action annotation on the Release, since the operator would ignore that one and nobody would
know why.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from greenlight import models, user_actions
from greenlight.cli import output
from greenlight.cli.exits import refused
from greenlight.cli.options import cluster_options, connect
from greenlight.cli.output import status_of

Planner = Callable[[models.ReleaseStatus], user_actions.ActionPlan]


def request_action(name: str, *, action: str, plan_for: Planner) -> None:
    """Reads the Release, plans the action (or refuses it), writes its annotation, says what."""
    with connect() as conn:
        release = conn.client.get(conn.namespace, name)
        try:
            plan = plan_for(status_of(release))
            user_actions.refuse_beside_malformed(
                name, conn.namespace, plan, output.annotations_of(release)
            )
        except user_actions.ActionRefused as refusal:
            raise refused(f"{action} refused: {refusal}") from None
        conn.client.annotate(conn.namespace, name, plan.annotations)
    click.echo(f"{action} requested for {conn.namespace}/{name}: {plan.description}")
    click.echo(f"follow it with: greenlight wait {name} -n {conn.namespace}")


@click.command(short_help="Move traffic to the revision awaiting promotion.")
@click.argument("name")
@cluster_options
def promote(name: str) -> None:
    """Move traffic to the revision of NAME that awaits promotion (autoPromote: false)."""
    request_action(name, action="promote", plan_for=lambda s: user_actions.plan_promote(name, s))


@click.command(short_help="Abandon the revision in flight.")
@click.argument("name")
@cluster_options
def abort(name: str) -> None:
    """Abandon the revision of NAME in flight; traffic stays on (or returns to) stable."""
    request_action(name, action="abort", plan_for=lambda s: user_actions.plan_abort(name, s))


@click.command(short_help="Release an earlier revision again.")
@click.argument("name")
@click.option(
    "--to-revision",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Revision to release again [default: the one that succeeded before the stable one].",
)
@cluster_options
def rollback(name: str, to_revision: int | None) -> None:
    """Release an earlier revision of NAME again (at once while its colour is still warm)."""
    request_action(
        name,
        action="rollback",
        plan_for=lambda s: user_actions.plan_rollback(name, s, to_revision),
    )
