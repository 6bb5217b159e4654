"""`status`, `history` and `get` against the emulated API server: what they show, their data
output, and where the namespace comes from."""

from __future__ import annotations

import json
import pathlib

import yaml

from greenlight_sandbox.emulator import EmulatedCluster
from tests.cli.conftest import (
    IMAGE,
    NAMESPACE,
    OLD_IMAGE,
    VERIFYING,
    create_release,
    run_cli,
    write_kubeconfig,
)


def add_event(cluster: EmulatedCluster, name: str, reason: str, message: str, when: str) -> None:
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"web.{name}", "namespace": NAMESPACE},
            "involvedObject": {
                "apiVersion": "greenlight.dev/v1alpha1",
                "kind": "Release",
                "name": "web",
                "namespace": NAMESPACE,
            },
            "reason": reason,
            "message": message,
            "type": "Normal",
            "lastTimestamp": when,
        }
    )


def test_status_shows_phase_traffic_gates_conditions_and_events(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=VERIFYING)
    add_event(cluster, "a", "Progressing", "green runs revision 2", "2024-05-01T11:59:00Z")
    add_event(cluster, "b", "Verifying", "gates probe web-preview", "2024-05-01T11:59:30Z")

    result = run_cli(cluster, "status", "web", "-n", NAMESPACE)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Release shop/web  Verifying"
    assert lines[1] == "probing the preview Service web-preview"
    assert "Active     blue; preview green" in lines
    assert "Revisions  current 2, stable 1" in lines
    assert f"Images     {IMAGE}" in lines
    gate_row = next(line for line in lines if line.startswith("readyz"))
    assert gate_row.split()[:4] == ["readyz", "Running", "2/3", "0"]
    assert gate_row.endswith("HTTP 200 in 4 ms")
    assert any(line.startswith("Available  True    ActiveServing") for line in lines)
    events = [line for line in lines if line.split()[2:3] == ["Normal"]]
    assert len(events) == 2
    assert "Progressing" in events[0] and events[0].endswith("green runs revision 2")
    assert "Verifying" in events[1] and events[1].endswith("gates probe web-preview")
    assert not any(line != line.rstrip() for line in lines), "no trailing blanks in a pipe"


def test_status_as_json_and_yaml_is_the_release_object(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=VERIFYING)

    as_json = run_cli(cluster, "status", "web", "-n", NAMESPACE, "-o", "json")
    as_yaml = run_cli(cluster, "status", "web", "-n", NAMESPACE, "--output", "yaml")

    assert as_json.exit_code == 0 and as_yaml.exit_code == 0
    document = json.loads(as_json.output)
    assert document["kind"] == "Release"
    assert document["status"]["phase"] == "Verifying"
    assert yaml.safe_load(as_yaml.output)["status"] == document["status"]


def test_the_namespace_options_work_before_and_after_the_subcommand(
    cluster: EmulatedCluster,
) -> None:
    create_release(cluster, status=VERIFYING)
    kubeconfig = str(cluster.kubeconfig_path)
    runs = {
        "after": ["status", "web", "-n", NAMESPACE, "--kubeconfig", kubeconfig],
        "long form after": ["status", "web", f"--namespace={NAMESPACE}", "--context", "emulated"],
        "before": ["-n", NAMESPACE, "--context", "emulated", "status", "web"],
        "after wins": ["-n", "elsewhere", "status", "web", "-n", NAMESPACE],
    }
    for how, args in runs.items():
        result = run_cli(cluster, *args)
        assert result.exit_code == 0, (how, result.output)
        assert result.output.startswith("Release shop/web"), how


def test_the_namespace_defaults_to_the_kubeconfig_contexts_then_default(
    cluster: EmulatedCluster, tmp_path: pathlib.Path
) -> None:
    create_release(cluster, status=VERIFYING)
    document = cluster.kubeconfig()
    document["contexts"][0]["context"]["namespace"] = NAMESPACE
    in_shop = write_kubeconfig(tmp_path / "shop.yaml", document)
    del document["contexts"][0]["context"]["namespace"]
    no_namespace = write_kubeconfig(tmp_path / "none.yaml", document)

    from_context = run_cli(cluster, "status", "web", "--kubeconfig", str(in_shop))
    from_default = run_cli(cluster, "status", "web", "--kubeconfig", str(no_namespace))

    assert from_context.exit_code == 0, from_context.output
    assert from_default.exit_code == 3
    assert 'not found in namespace "default"' in from_default.output


def test_kubeconfig_comes_from_the_environment_when_not_given(
    cluster: EmulatedCluster,
) -> None:
    from click.testing import CliRunner

    from greenlight.cli.main import cli

    create_release(cluster, status=VERIFYING)
    result = CliRunner().invoke(
        cli, ["get", "-n", NAMESPACE], env={"KUBECONFIG": str(cluster.kubeconfig_path)}
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split()[:2] == ["web", "Verifying"]


def test_history_lists_revisions_newest_first_with_marks(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=VERIFYING)

    result = run_cli(cluster, "history", "web", "-n", NAMESPACE)

    assert result.exit_code == 0, result.output
    header, newest, oldest = result.output.splitlines()
    assert header.split() == [
        "REVISION",
        "OUTCOME",
        "COLOR",
        "IMAGES",
        "STARTED",
        "DURATION",
        "REASON",
    ]
    assert newest.split()[:5] == ["2", "current", "InProgress", "green", IMAGE]
    assert oldest.split()[:5] == ["1", "stable", "Succeeded", "blue", OLD_IMAGE]
    assert oldest.split()[-4:] == ["3m20s", "every", "gate", "passed"]


def test_history_as_data_and_when_empty(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=VERIFYING)
    create_release(cluster, "fresh")

    as_json = run_cli(cluster, "history", "web", "-n", NAMESPACE, "-o", "json")
    empty = run_cli(cluster, "history", "fresh", "-n", NAMESPACE)

    assert [entry["revision"] for entry in json.loads(as_json.output)] == [2, 1]
    assert json.loads(as_json.output)[1]["finishedAt"] == "2024-04-30T09:03:20Z"
    assert empty.exit_code == 0
    assert empty.output.strip() == "release shop/fresh has no history yet"


def test_get_lists_releases_of_a_namespace_or_all(cluster: EmulatedCluster) -> None:
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "blog"}})
    create_release(cluster, status=VERIFYING)
    create_release(cluster, "api", status={**VERIFYING, "phase": "Succeeded", "gates": []})
    create_release(cluster, "blog", namespace="blog")

    one = run_cli(cluster, "get", "-n", NAMESPACE)
    every = run_cli(cluster, "get", "-A")

    assert one.exit_code == 0 and every.exit_code == 0
    rows = [line.split() for line in one.output.splitlines()]
    assert rows[0][:9] == [
        "NAME", "PHASE", "ACTIVE", "REVISION", "STABLE", "GATES", "IMAGE", "AGE", "MESSAGE",
    ]  # fmt: skip
    assert [row[:7] for row in rows[1:]] == [
        ["api", "Succeeded", "blue", "2", "1", "-", IMAGE],
        ["web", "Verifying", "blue", "2", "1", "0/1", "passed"],
    ]
    assert [line.split()[:3] for line in every.output.splitlines()[1:]] == [
        ["blog", "blog", "Pending"],
        ["shop", "api", "Succeeded"],
        ["shop", "web", "Verifying"],
    ]


def test_get_as_data_is_a_list_and_an_empty_namespace_says_so(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=VERIFYING)

    as_yaml = run_cli(cluster, "get", "-A", "-o", "yaml")
    empty = run_cli(cluster, "get", "-n", "default")

    document = yaml.safe_load(as_yaml.output)
    assert document["kind"] == "List"
    assert [item["metadata"]["name"] for item in document["items"]] == ["web"]
    assert empty.exit_code == 0
    assert empty.output.strip() == "No releases found in namespace default."


def test_status_says_what_the_release_waits_for(cluster: EmulatedCluster) -> None:
    waiting = {"reason": "Endpoints", "message": "waiting: EndpointSlices still list blue"}
    create_release(cluster, status={**VERIFYING, "waiting": waiting})

    result = run_cli(cluster, "status", "web", "-n", NAMESPACE)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1:3] == [
        "probing the preview Service web-preview",
        "waiting: EndpointSlices still list blue",
    ]
