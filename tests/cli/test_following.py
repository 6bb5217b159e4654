"""`wait` and `status -w` following a Release through a watch while the test plays the operator.

Each command runs in a thread; the test waits until its watch is established, then writes
status as the operator would and checks what the command saw, printed and returned.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from greenlight import models
from greenlight.cli import output
from greenlight.kube import releases
from greenlight_sandbox.emulator import EmulatedCluster, wait_for
from tests.cli.conftest import (
    API_VERSION,
    NAMESPACE,
    VERIFYING,
    CliInThread,
    create_release,
    read_release,
    release_gets,
    run_cli,
    set_status,
    watch_started,
)

PROGRESSING = {
    **VERIFYING,
    "phase": "Progressing",
    "message": "green is rolling out revision 2: 1/2 ready",
    "gates": [],
}
PASSING = [{"name": "readyz", "phase": "Passed", "successes": 3, "failures": 0}]
FAILING = [{"name": "readyz", "phase": "Failed", "successes": 0, "failures": 3}]


def test_wait_follows_a_release_that_succeeds(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster))
        set_status(cluster, phase="Verifying", message="probing", gates=VERIFYING["gates"])
        set_status(cluster, gates=PASSING, message="every gate passed")
        set_status(cluster, phase="Succeeded", message="revision 2 serves", gates=[])
        result = command.result()

    assert result.exit_code == 0, result.output
    lines = [line.split("] ", 1)[-1] for line in result.output.splitlines()]
    assert lines == [
        "shop/web Progressing revision 2 (green): green is rolling out revision 2: 1/2 ready",
        "shop/web Verifying revision 2 (green) gates readyz 2/3: probing",
        "shop/web Verifying revision 2 (green) gates readyz passed: every gate passed",
        "shop/web Succeeded revision 2 (green): revision 2 serves",
        "release shop/web: revision 2 succeeded: revision 2 serves",
    ]
    assert release_gets(cluster) == 1, "one GET, then the watch: no polling"


def test_wait_exits_1_with_the_message_when_the_release_rolls_back(
    cluster: EmulatedCluster,
) -> None:
    create_release(cluster, status=VERIFYING)

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster))
        set_status(cluster, gates=FAILING)
        set_status(
            cluster,
            phase="RolledBack",
            message="gate readyz failed 3 times (HTTP 503); traffic stays on revision 1",
        )
        result = command.result()

    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "release shop/web: RolledBack (revision 2): "
        "gate readyz failed 3 times (HTTP 503); traffic stays on revision 1"
    )


def test_wait_times_out_with_exit_2(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)
    started = time.monotonic()

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "1s") as command:
        result = command.result()

    assert result.exit_code == 2
    assert time.monotonic() - started < 5
    assert result.output.splitlines()[-1] == (
        "timed out after 1s: release shop/web is Progressing: "
        "green is rolling out revision 2: 1/2 ready"
    )


def test_wait_ignores_a_succeeded_of_an_older_generation(cluster: EmulatedCluster) -> None:
    create_release(cluster, status={**VERIFYING, "phase": "Succeeded", "gates": []})
    new_image = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "w:2"}]}}}}
    changed = cluster.patch(API_VERSION, "releases", NAMESPACE, "web", new_image)
    assert changed["metadata"]["generation"] == 2

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster))
        assert command.running, "the stale Succeeded of generation 1 must not end the wait"
        set_status(cluster, observedGeneration=2, phase="Progressing", currentRevision=3)
        set_status(cluster, phase="Succeeded", message="revision 3 serves")
        result = command.result()

    assert result.exit_code == 0, result.output
    lines = [line.split("] ", 1)[-1] for line in result.output.splitlines()]
    assert lines[0] == (
        "shop/web the operator has not acted on generation 2 yet (status is of generation 1)"
    )
    assert lines[-1] == "release shop/web: revision 3 succeeded: revision 3 serves"


def test_wait_for_promotable_ends_when_the_gates_have_passed(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=VERIFYING)

    with CliInThread(
        cluster, "wait", "web", "--for", "promotable", "-n", NAMESPACE, "--timeout", "20s"
    ) as command:
        wait_for(lambda: watch_started(cluster))
        set_status(cluster, phase="AwaitingPromotion", gates=PASSING, message="promote me")
        result = command.result()

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "release shop/web: revision 2 passed its gates and awaits promotion: promote me"
    )


def test_wait_waits_for_the_operator_to_take_an_action_annotation(
    cluster: EmulatedCluster,
) -> None:
    create_release(
        cluster,
        annotations={models.ANNOTATION_ROLLBACK_TO: "1"},
        status={**VERIFYING, "phase": "Succeeded", "gates": []},
    )

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster))
        assert command.running, "Succeeded does not count while a rollback is asked for"
        set_status(cluster, phase="Progressing", currentRevision=1, message="rolling back")
        cluster.patch(
            API_VERSION,
            "releases",
            NAMESPACE,
            "web",
            {"metadata": {"annotations": {models.ANNOTATION_ROLLBACK_TO: None}}},
        )
        set_status(cluster, phase="Succeeded", message="revision 1 serves again")
        result = command.result()

    assert result.exit_code == 0, result.output
    assert (
        "shop/web Succeeded revision 2 (green), greenlight.dev/rollback-to=1 not yet acted on: "
        "probing the preview Service web-preview"
    ) in result.output
    assert result.output.splitlines()[-1] == (
        "release shop/web: revision 1 succeeded: revision 1 serves again"
    )


def test_wait_reestablishes_an_expired_watch(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)
    cluster.inject_errors(method="GET", path_regex=r"/namespaces/shop/releases$", status=410)

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster))
        set_status(cluster, phase="Succeeded", message="done")
        result = command.result()

    assert result.exit_code == 0, result.output
    assert release_gets(cluster) == 2, "listed again after 410 Gone"


def test_wait_reports_a_release_deleted_under_it(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster))
        cluster.delete(API_VERSION, "releases", NAMESPACE, "web")
        result = command.result()

    assert result.exit_code == 3
    assert (
        result.output.splitlines()[-1] == 'error: release "web" was deleted from namespace "shop"'
    )


def test_wait_shows_a_live_view_on_a_terminal(
    cluster: EmulatedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    monkeypatch.setattr(
        output, "make_console", lambda: Console(file=screen, force_terminal=True, width=100)
    )
    create_release(cluster, status=VERIFYING)

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster))
        set_status(cluster, phase="Succeeded", message="revision 2 serves", gates=PASSING)
        result = command.result()

    assert result.exit_code == 0, result.output
    drawn = screen.getvalue()
    assert "\x1b[" in drawn, "drawn with terminal control codes"
    assert "shop/web" in drawn and "Succeeded" in drawn
    assert "waiting for web to be succeeded" in drawn
    assert result.output.splitlines()[-1].startswith("release shop/web: revision 2 succeeded")


def test_status_watch_prints_a_line_per_change(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)

    with CliInThread(
        cluster, "status", "web", "-w", "-n", NAMESPACE, "--timeout", "20s"
    ) as command:
        wait_for(lambda: watch_started(cluster))
        set_status(cluster, phase="Verifying", gates=VERIFYING["gates"], message="probing")
        set_status(cluster, phase="Succeeded", gates=[], message="revision 2 serves")
        cluster.delete(API_VERSION, "releases", NAMESPACE, "web")  # ends the watch
        result = command.result()

    lines = [line.split("] ", 1)[-1] for line in result.output.splitlines()]
    assert lines == [
        "shop/web Progressing revision 2 (green): green is rolling out revision 2: 1/2 ready",
        "shop/web Verifying revision 2 (green) gates readyz 2/3: probing",
        "shop/web Succeeded revision 2 (green): revision 2 serves",
        'error: release "web" was deleted from namespace "shop"',
    ]


def test_status_watch_as_json_prints_a_document_per_change(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)

    with CliInThread(
        cluster, "status", "web", "-w", "-o", "json", "-n", NAMESPACE, "--timeout", "20s"
    ) as command:
        wait_for(lambda: watch_started(cluster))
        set_status(cluster, phase="Verifying")
        set_status(cluster, phase="Succeeded")
        cluster.delete(API_VERSION, "releases", NAMESPACE, "web")
        result = command.result()

    documents = [json.loads(line) for line in result.output.splitlines()[:-1]]
    assert [document["status"]["phase"] for document in documents] == [
        "Progressing",
        "Verifying",
        "Succeeded",
    ]


def test_status_watch_stops_at_its_timeout(cluster: EmulatedCluster) -> None:
    create_release(cluster, status=PROGRESSING)

    with CliInThread(cluster, "status", "web", "-w", "-n", NAMESPACE, "--timeout", "1s") as command:
        result = command.result()

    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 1


def test_a_watch_ended_by_the_server_is_resumed_from_where_it_was(
    cluster: EmulatedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(releases, "WATCH_SECONDS", 1)
    create_release(cluster, status=PROGRESSING)

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster, count=2), timeout=10)
        set_status(cluster, phase="Succeeded", message="done")
        result = command.result()

    assert result.exit_code == 0, result.output
    assert release_gets(cluster) == 1, "resumed with the last resourceVersion, not listed again"
    watches = [request for request in cluster.requests if request.query.get("watch") == "true"]
    assert [request.query["timeoutSeconds"] for request in watches[:2]] == ["1", "1"]
    assert watches[1].query["resourceVersion"] == watches[0].query["resourceVersion"]


def test_wait_warns_once_of_a_malformed_annotation_and_goes_on(cluster: EmulatedCluster) -> None:
    create_release(
        cluster,
        annotations={models.ANNOTATION_ROLLBACK_TO: "abc"},
        status={**VERIFYING, "phase": "Succeeded", "gates": [], "message": "serving"},
    )

    outcome = run_cli(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "5s")

    assert outcome.exit_code == 0, outcome.output
    warnings = [line for line in outcome.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        'warning: greenlight.dev/rollback-to="abc" on release web is malformed (expected a '
        'revision number such as "3"); the operator ignores it. Remove it with: kubectl '
        "annotate release web -n shop greenlight.dev/rollback-to-"
    ]


def test_the_live_view_and_the_lines_say_what_the_release_waits_for(
    cluster: EmulatedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    monkeypatch.setattr(
        output, "make_console", lambda: Console(file=screen, force_terminal=True, width=100)
    )
    waiting = {"reason": "GatePasses", "message": "waiting: gate readyz has 2 of 3 passes"}
    create_release(cluster, status={**VERIFYING, "waiting": waiting})

    with CliInThread(cluster, "wait", "web", "-n", NAMESPACE, "--timeout", "20s") as command:
        wait_for(lambda: watch_started(cluster))
        set_status(cluster, phase="Succeeded", message="revision 2 serves", waiting=None)
        result = command.result()

    assert result.exit_code == 0, result.output
    assert "waiting: gate readyz has 2 of 3 passes" in screen.getvalue()
    status = models.ReleaseStatus.model_validate({**VERIFYING, "waiting": waiting})
    release = read_release(cluster)
    assert output.progress_line(release, status).endswith(
        "probing the preview Service web-preview (waiting: gate readyz has 2 of 3 passes)"
    )
