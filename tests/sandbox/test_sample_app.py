"""The sample app: identity, probes, metrics and each misbehaviour knob through TestClient with a
fake clock; the real process for bad settings and for the drain on SIGTERM."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

with warnings.catch_warnings():
    # Starlette announces its move to httpx2 when only httpx is installed.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

from greenlight_sample.behaviour import Behaviour
from greenlight_sample.main import create_app
from greenlight_sample.settings import Settings, SettingsError, load_settings
from greenlight_sandbox.emulator import wait_for

VARIABLES = (
    "APP_VERSION",
    "GREENLIGHT_COLOR",
    "GREENLIGHT_REVISION",
    "POD_NAME",
    "HOSTNAME",
    "SAMPLE_STARTUP_SECONDS",
    "SAMPLE_NEVER_READY",
    "SAMPLE_FAIL_AFTER_SECONDS",
    "SAMPLE_ERROR_RATE",
    "SAMPLE_DRAIN_SECONDS",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def client_for(monkeypatch: pytest.MonkeyPatch, clock: Clock, **env: str) -> TestClient:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return TestClient(create_app(clock=clock))


def test_root_says_who_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(
        monkeypatch,
        Clock(),
        APP_VERSION="1.4.2",
        GREENLIGHT_COLOR="green",
        GREENLIGHT_REVISION="7",
        HOSTNAME="web-green-abc12",
    )
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.json() == {
        "version": "1.4.2",
        "color": "green",
        "revision": "7",
        "pod": "web-green-abc12",
    }
    assert answer.headers["x-app-version"] == "1.4.2"
    assert answer.headers["x-app-color"] == "green"
    # Every answer names its colour, the probes' too.
    assert client.get("/readyz").headers["x-app-color"] == "green"


def test_defaults_and_pod_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTNAME", "from-hostname")
    client = client_for(monkeypatch, Clock())
    body = client.get("/").json()
    assert body == {"version": "dev", "color": "unknown", "revision": "0", "pod": "from-hostname"}
    monkeypatch.setenv("POD_NAME", "from-pod-name")
    assert load_settings().pod == "from-pod-name"


def test_probes_when_well(monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(monkeypatch, Clock())
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"ready": True}


def test_slow_start_is_unready_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    client = client_for(monkeypatch, clock, SAMPLE_STARTUP_SECONDS="5")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "reason": "starting"}
    assert client.get("/healthz").status_code == 200, "alive while starting"
    clock.now += 4.9
    assert client.get("/readyz").status_code == 503
    clock.now += 0.1
    assert client.get("/readyz").status_code == 200


def test_never_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    client = client_for(monkeypatch, clock, SAMPLE_NEVER_READY="true")
    clock.now += 3600
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "never ready" in ready.json()["reason"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200


def test_fails_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    client = client_for(monkeypatch, clock, SAMPLE_FAIL_AFTER_SECONDS="10")
    assert [client.get(p).status_code for p in ("/", "/healthz", "/readyz")] == [200, 200, 200]
    clock.now += 10
    assert [client.get(p).status_code for p in ("/", "/healthz", "/readyz")] == [500, 500, 500]
    assert client.get("/").headers["x-app-version"] == "dev"
    assert client.get("/metrics").status_code == 200, "still observable while failing"


@pytest.mark.parametrize(
    ("rate", "failing"),
    [
        ("0.2", [5, 10, 15, 20]),
        ("0.25", [4, 8, 12, 16, 20]),
        ("0.5", list(range(2, 21, 2))),
        ("0", []),
        ("1", list(range(1, 21))),
    ],
)
def test_error_rate_is_deterministic(
    monkeypatch: pytest.MonkeyPatch, rate: str, failing: list[int]
) -> None:
    client = client_for(monkeypatch, Clock(), SAMPLE_ERROR_RATE=rate)
    statuses = [client.get("/").status_code for _ in range(20)]
    assert [n for n, status in enumerate(statuses, start=1) if status == 500] == failing
    assert set(statuses) <= {200, 500}
    # Only `/` is affected: the probes stay well.
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_error_rate_of_a_third_over_a_long_run() -> None:
    behaviour = Behaviour(Settings(sample_error_rate=0.333))
    failures = [behaviour.next_answer_fails() for _ in range(1000)]
    assert failures.count(True) == 333
    # Spread out, never bunched: no two failures in a row at a rate below one half.
    assert not any(a and b for a, b in itertools.pairwise(failures))


def test_draining_is_unready_but_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(monkeypatch, Clock())
    app = client.app
    assert isinstance(app, FastAPI)
    app.state.behaviour.draining = True
    assert client.get("/readyz").json() == {"ready": False, "reason": "draining"}
    assert client.get("/readyz").status_code == 503
    assert client.get("/").status_code == 200
    assert client.get("/healthz").status_code == 200


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(
        monkeypatch, Clock(), APP_VERSION="2.0", GREENLIGHT_COLOR="blue", SAMPLE_ERROR_RATE="0.5"
    )
    for _ in range(4):
        client.get("/")
    client.get("/healthz")
    client.get("/no/such/path")
    answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    assert samples[("sample_app_requests_total", (("path", "/"), ("status", "200")))] == 2
    assert samples[("sample_app_requests_total", (("path", "/"), ("status", "500")))] == 2
    assert samples[("sample_app_requests_total", (("path", "/healthz"), ("status", "200")))] == 1
    assert samples[("sample_app_requests_total", (("path", "other"), ("status", "404")))] == 1
    assert samples[("sample_app_request_duration_seconds_count", (("path", "/"),))] == 4
    assert samples[("sample_app_info", (("color", "blue"), ("version", "2.0")))] == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAMPLE_STARTUP_SECONDS", "-1"),
        ("SAMPLE_STARTUP_SECONDS", "soon"),
        ("SAMPLE_NEVER_READY", "maybe"),
        ("SAMPLE_FAIL_AFTER_SECONDS", "nan"),
        ("SAMPLE_ERROR_RATE", "1.5"),
        ("SAMPLE_ERROR_RATE", "20%"),
        ("SAMPLE_DRAIN_SECONDS", "inf"),
    ],
)
def test_bad_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name}='{value}'"):
        load_settings()


def test_empty_values_mean_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SAMPLE_STARTUP_SECONDS", "SAMPLE_FAIL_AFTER_SECONDS", "SAMPLE_ERROR_RATE"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.sample_startup_seconds == 0
    assert settings.sample_fail_after_seconds is None
    assert settings.sample_error_rate == 0
    assert isinstance(settings, Settings)


# -- the real process -------------------------------------------------------------------------


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return {**env, **extra}


def test_the_process_refuses_bad_settings() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "greenlight_sample", "--port", "1"],
        env=_environment(SAMPLE_ERROR_RATE="2"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "SAMPLE_ERROR_RATE='2'" in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _in_flight(client: httpx.Client) -> float:
    samples = _samples(client.get("/metrics").text)
    return samples[("sample_app_requests_in_flight", ())]


@pytest.fixture
def sample_process() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "greenlight_sample", "--host", "127.0.0.1", "--port", str(port)],
        env=_environment(APP_VERSION="3.1", GREENLIGHT_COLOR="blue", SAMPLE_DRAIN_SECONDS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_sigterm_drains_then_exits_zero(
    sample_process: tuple[str, subprocess.Popen[str]],
) -> None:
    url, process = sample_process
    client = httpx.Client(base_url=url, trust_env=False, timeout=10)

    def ready() -> bool:
        assert process.poll() is None, "the app exited"
        try:
            return client.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(ready, timeout=30)

    # A request in flight across the whole shutdown, on its own connection.
    answers: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(httpx.get(f"{url}/delay/2", trust_env=False, timeout=10))
    )
    slow.start()
    wait_for(lambda: _in_flight(client) >= 2, timeout=10)  # the slow one and the metrics

    process.send_signal(signal.SIGTERM)
    wait_for(lambda: client.get("/readyz").status_code == 503, timeout=5)
    assert client.get("/readyz").json()["reason"] == "draining"
    served = client.get("/")  # still served while Services catch up
    assert served.status_code == 200 and served.headers["x-app-color"] == "blue"
    client.close()

    assert process.wait(timeout=30) == 0
    slow.join(timeout=10)
    assert [a.status_code for a in answers] == [200], "the request in flight was not finished"
    assert answers[0].json()["version"] == "3.1"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", trust_env=False)
