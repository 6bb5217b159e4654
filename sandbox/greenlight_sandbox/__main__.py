"""`python -m greenlight_sandbox`: the sandbox's commands (what `make demo`, `make sandbox` and
`make bench-switch` run).

- `demo`: the story under load, with a report and a picture;
- `up`: the cluster with the operator and the API service, kept running until Ctrl-C;
- `bench-switch`: the zero-downtime switch benchmark with its negative control.

Every process started is stopped on the way out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import pathlib
import signal
import sys
import threading

from greenlight_sandbox import demo, switch_bench
from greenlight_sandbox.apiservice import SandboxSetupError
from greenlight_sandbox.cluster import VitalProcessExited
from greenlight_sandbox.system import running_system


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m greenlight_sandbox", description=__doc__)
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        default=pathlib.Path("build/sandbox"),
        help="kubeconfig, operator log and pod logs (default: build/sandbox)",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("build"),
        help="where reports and pictures are written (default: build)",
    )
    parser.add_argument(
        "--lag",
        type=float,
        default=1.0,
        help="seconds before a Service's proxy follows an endpoint change (default: 1)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="the story under steady load")
    run_demo.add_argument("--rate", type=float, default=50.0, help="requests/s (default: 50)")
    commands.add_parser("up", help="the sandbox for hands-on use, until Ctrl-C")
    bench = commands.add_parser("bench-switch", help="the switch benchmark")
    bench.add_argument("--rate", type=float, default=200.0, help="requests/s (default: 200)")
    bench.add_argument("--switches", type=int, default=10, help="default switches (default: 10)")
    return parser


def _up(workdir: pathlib.Path, lag: float) -> None:
    with running_system(workdir, propagation_lag_seconds=lag) as system:
        sandbox = system.sandbox
        print(
            "\nThe sandbox is up. In another terminal:\n"
            f"  export KUBECONFIG={sandbox.kubeconfig_path.resolve()}\n"
            "  kubectl get releases,deployments,pods,services -A -o wide\n"
            "  kubectl apply --validate=false -f sandbox/greenlight_sandbox/story/shop.yaml\n"
            "  greenlight wait shop -n demo && greenlight status shop -n demo\n"
            "  curl http://$(kubectl get svc shop -n demo -o jsonpath='{.spec.clusterIP}'):8080/\n"
            f"Dashboard: {system.dashboard_url}/\n"
            "Ctrl-C stops the sandbox and every process it started.",
            flush=True,
        )
        stopped = threading.Event()
        while not stopped.wait(1.0):  # until Ctrl-C, or until the operator has ended
            sandbox.check_vital()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Ctrl-C, and a SIGTERM as `kill` or a supervisor sends it, take the same way out: every
    # `with` unwinds and stops what it started. SIGINT is set explicitly because a shell
    # starting us in the background would have it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.command == "demo":
            report = demo.run(
                args.workdir, args.out, rate_per_second=args.rate, propagation_lag_seconds=args.lag
            )
            return 0 if all(s["phase"] == s["expected_phase"] for s in report["steps"]) else 1
        if args.command == "up":
            _up(args.workdir, args.lag)
            return 0
        switch_bench.run(
            args.workdir,
            args.out,
            rate_per_second=args.rate,
            switches=args.switches,
            propagation_lag_seconds=args.lag,
        )
        return 0
    except (SandboxSetupError, VitalProcessExited) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped: every process the sandbox started has been stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
