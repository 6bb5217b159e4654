"""Bad input and broken surroundings: one line on stderr saying what to do, a documented exit
code, never a traceback."""

from __future__ import annotations

import pathlib
import socket

import pytest
from click.testing import CliRunner, Result

from greenlight.cli.main import cli
from greenlight_sandbox.emulator import EmulatedCluster
from tests.cli.conftest import (
    API_VERSION,
    NAMESPACE,
    VERIFYING,
    create_release,
    run_cli,
    write_kubeconfig,
)

EVERY_COMMAND = [
    ["status", "web"],
    ["status", "web", "-w", "--timeout", "5s"],
    ["wait", "web", "--timeout", "5s"],
    ["promote", "web"],
    ["abort", "web"],
    ["rollback", "web"],
    ["history", "web"],
    ["get"],
]


def assert_one_line(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert len(result.output.splitlines()) == 1, result.output
    for fragment in fragments:
        assert fragment in result.output


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def unreachable_kubeconfig(tmp_path: pathlib.Path) -> pathlib.Path:
    server = f"http://127.0.0.1:{closed_port()}"
    return write_kubeconfig(
        tmp_path / "kubeconfig",
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "gone", "cluster": {"server": server}}],
            "users": [{"name": "someone", "user": {"token": "t"}}],
            "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "someone"}}],
            "current-context": "gone",
        },
    )


@pytest.mark.parametrize("args", EVERY_COMMAND, ids=" ".join)
def test_an_unreachable_cluster(args: list[str], unreachable_kubeconfig: pathlib.Path) -> None:
    result = CliRunner().invoke(cli, [*args, "--kubeconfig", str(unreachable_kubeconfig)])

    assert_one_line(result, 3, "error: cannot reach the cluster at http://127.0.0.1:")
    assert result.output.rstrip().endswith(
        "Connection refused; check that it is running and that --kubeconfig/--context point at it"
    )


@pytest.mark.parametrize("args", EVERY_COMMAND[:-1], ids=" ".join)
def test_an_unknown_release(cluster: EmulatedCluster, args: list[str]) -> None:
    result = run_cli(cluster, *args, "-n", NAMESPACE)

    assert_one_line(
        result,
        3,
        'error: release "web" not found in namespace "shop"; list them with: '
        "greenlight get -n shop (or -A for every namespace)",
    )


def test_no_kubeconfig_an_unknown_context_and_a_broken_kubeconfig(
    cluster: EmulatedCluster, tmp_path: pathlib.Path
) -> None:
    missing = CliRunner().invoke(cli, ["get", "--kubeconfig", str(tmp_path / "nope")])
    unknown = run_cli(cluster, "get", "--context", "production")
    broken = tmp_path / "broken"
    broken.write_text("clusters: [unclosed\n")
    unreadable = CliRunner().invoke(cli, ["get", "--kubeconfig", str(broken)])

    assert_one_line(missing, 3, "error: no kubeconfig at", "pass --kubeconfig or set KUBECONFIG")
    assert_one_line(
        unknown, 3, "error: context 'production' is not in the kubeconfig", "(known: emulated)"
    )
    assert_one_line(unreadable, 3, f"error: the kubeconfig {broken} is not usable: ")


@pytest.mark.parametrize(
    ("status", "method", "args", "expected"),
    [
        (
            401,
            "GET",
            ["status", "web"],
            "did not accept your credentials (401 Unauthorized); log in again",
        ),
        (
            403,
            "PATCH",
            ["abort", "web"],
            'error: not allowed to patch releases.greenlight.dev in namespace "shop" (403 '
            "Forbidden",
        ),
        (403, "GET", ["get", "-A"], "not allowed to list releases.greenlight.dev in any namespace"),
        (500, "GET", ["history", "web"], "the API server refused to get releases"),
    ],
)
def test_refusals_of_the_api_server(
    cluster: EmulatedCluster, status: int, method: str, args: list[str], expected: str
) -> None:
    create_release(cluster, status=VERIFYING)
    cluster.inject_errors(method=method, path_regex=r"/releases", status=status)

    result = run_cli(cluster, *args, "-n", NAMESPACE)

    assert_one_line(result, 3, expected)


def test_a_cluster_without_the_crd(kube_cluster: EmulatedCluster) -> None:
    listed = run_cli(kube_cluster, "get")
    one = run_cli(kube_cluster, "status", "web")

    for result in (listed, one):
        assert_one_line(
            result,
            3,
            "has no releases.greenlight.dev resource; install Greenlight's CRD first",
        )


def test_a_status_this_cli_cannot_read(cluster: EmulatedCluster) -> None:
    create_release(cluster)
    cluster.patch(
        API_VERSION,
        "releases",
        NAMESPACE,
        "web",
        {"status": {"phase": "Exploded"}},
        subresource="status",
    )

    result = run_cli(cluster, "status", "web", "-n", NAMESPACE)
    listed = run_cli(cluster, "get", "-n", NAMESPACE)

    assert_one_line(
        result,
        3,
        "error: release shop/web has a status this greenlight cannot read (status.phase: ",
        "upgrade the CLI to the operator's version",
    )
    assert listed.exit_code == 0
    assert "has a status this greenlight cannot read" in listed.output


@pytest.mark.parametrize(
    "args",
    [["wait", "web", "--timeout", "soon"], ["wait", "web", "--for", "ever"], ["status"]],
    ids=" ".join,
)
def test_usage_errors_exit_4(cluster: EmulatedCluster, args: list[str]) -> None:
    result = run_cli(cluster, *args)

    assert result.exit_code == 4
    assert "Traceback" not in result.output
