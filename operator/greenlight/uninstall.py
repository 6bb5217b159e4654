"""`python -m greenlight.uninstall`: what the chart's pre-delete hook runs before `helm
uninstall` removes anything. It stops the operator (scaled to zero, its pods awaited) and then
removes the operator's finalizer, and only it, from every Release it can see, so that the API
service's Release and any namespace being deleted around a Release never wait for an operator
that is gone. Releases keep running; a reinstalled operator puts its finalizer back.

Exit status: 0 done, 1 the operator's pods did not stop or the API server refused.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kubernetes.client.exceptions import ApiException

from greenlight.kube import client as kube_client
from greenlight.kube import finalizers
from greenlight.kube.common import Kube
from greenlight.settings import OperatorSettings

logger = logging.getLogger("greenlight.uninstall")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m greenlight.uninstall",
        description="Stop the operator, then release its finalizer from every Release.",
    )
    parser.add_argument("--operator-namespace", required=True)
    parser.add_argument("--operator-deployment", required=True)
    parser.add_argument(
        "--operator-selector", required=True, help="label selector of the operator's pods"
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        dest="namespaces",
        help="a namespace the operator watches (repeat); none: every namespace",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to stop the pods")
    parser.add_argument("--kubeconfig", default=None)
    return parser


def run(kube: Kube, args: argparse.Namespace) -> int:
    try:
        finalizers.stop_operator(
            kube,
            namespace=args.operator_namespace,
            deployment=args.operator_deployment,
            selector=args.operator_selector,
            timeout=args.timeout,
        )
        logger.info("operator stopped")
        scopes: list[str | None] = list(args.namespaces) or [None]
        for released in finalizers.release_finalizers(kube, scopes):
            logger.info("released %s", released)
    except finalizers.StillRunning as error:
        logger.error("%s", error)
        return 1
    except ApiException as error:
        logger.error("the API server refused: %s %s", error.status, error.reason)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    args = _parser().parse_args(argv)
    settings = OperatorSettings()
    api_client = kube_client.load_api_client(kubeconfig=args.kubeconfig)
    try:
        return run(Kube(api_client, settings), args)
    finally:
        api_client.close()


if __name__ == "__main__":
    sys.exit(main())
