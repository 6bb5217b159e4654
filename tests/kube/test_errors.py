"""The one error vocabulary: what the client raises becomes one typed error, by status, and the
CLI words each type in one sentence with its exit code (the service's HTTP answers are pinned
in tests/service/test_kube_errors.py)."""

from __future__ import annotations

import json

import pytest
import urllib3
import urllib3.connection
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from greenlight.cli.exits import ExitCode, cluster_problem_of
from greenlight.kube import errors
from greenlight.kube.client import KubeconfigProblem
from greenlight.kube.releases import ReleaseClient
from greenlight_sandbox.emulator import EmulatedCluster

SERVER = "https://cluster.example:6443"


def refusal(status: int, message: str = "said the API server", **details: str) -> ApiException:
    error = ApiException(status=status, reason="Reason")
    error.body = json.dumps({"kind": "Status", "message": message, "details": details})
    return error


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, errors.Invalid),
        (401, errors.Forbidden),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (410, errors.Expired),
        (422, errors.Invalid),
        (500, errors.ApiError),
        (503, errors.ApiError),
    ],
)
def test_each_status_is_one_type(status: int, kind: type[errors.KubeError]) -> None:
    typed = errors.translate(refusal(status), verb="patch", namespace="shop", name="web")

    assert type(typed) is kind
    assert (typed.status, typed.message) == (status, "said the API server")
    assert str(typed) == "patch releases shop/web: said the API server"


@pytest.mark.parametrize(
    "raised",
    [
        ApiException(status=0, reason="Connection refused"),
        ConnectionRefusedError(111, "Connection refused"),
        urllib3.exceptions.MaxRetryError(
            urllib3.HTTPConnectionPool("127.0.0.1", 9),
            "/apis",
            urllib3.exceptions.NewConnectionError(
                urllib3.connection.HTTPConnection("127.0.0.1", 9),
                "Failed to establish a new connection: [Errno 111] Connection refused",
            ),
        ),
    ],
    ids=["status 0", "socket", "urllib3"],
)
def test_no_answer_is_unreachable_with_the_innermost_reason(raised: Exception) -> None:
    typed = errors.translate(raised, verb="get", namespace="shop", name="web")

    assert type(typed) is errors.Unreachable
    assert typed.status is None
    assert typed.message == "Connection refused"


@pytest.mark.parametrize("raised", [ConfigException("no token"), KubeconfigProblem("no token")])
def test_an_unusable_kubeconfig_is_a_kubeconfig_error(raised: Exception) -> None:
    assert type(errors.translate(raised, verb="get")) is errors.KubeconfigError


def test_a_bug_in_the_block_is_not_translated() -> None:
    with pytest.raises(ZeroDivisionError), errors.translated(verb="get"):
        _ = 1 / 0


def test_the_same_status_from_the_api_server_is_the_same_type(cluster: EmulatedCluster) -> None:
    with ReleaseClient(cluster.api_client()) as releases:
        with pytest.raises(errors.NotFound) as missing:
            releases.get("shop", "nope")
        cluster.inject_errors(method="GET", path_regex=r"/releases/nope$", status=403)
        with pytest.raises(errors.Forbidden) as forbidden:
            releases.get("shop", "nope")
        cluster.inject_errors(method="PATCH", path_regex=r"/releases/nope$", status=409)
        with pytest.raises(errors.Conflict):
            releases.annotate("shop", "nope", {"a": "b"})

    assert not missing.value.no_such_resource
    assert (missing.value.verb, missing.value.namespace, missing.value.name) == (
        "get",
        "shop",
        "nope",
    )
    assert forbidden.value.status == 403


WHERE = {"verb": "get", "namespace": "shop", "name": "web"}


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (
            errors.translate(refusal(401), **WHERE),
            f"the cluster at {SERVER} did not accept your credentials (401 Unauthorized); "
            "log in again or pick another --context",
        ),
        (
            errors.translate(refusal(403, "no"), verb="list", namespace=None),
            "not allowed to list releases.greenlight.dev in any namespace (403 Forbidden: no); "
            "ask your cluster admin for that right",
        ),
        (
            errors.translate(refusal(404, "gone", name="web"), **WHERE),
            'release "web" not found in namespace "shop"; list them with: greenlight get -n '
            "shop (or -A for every namespace)",
        ),
        (
            errors.translate(
                refusal(404, "the server could not find the requested resource"), **WHERE
            ),
            f"the cluster at {SERVER} has no releases.greenlight.dev resource; install "
            "Greenlight's CRD first (or pick another --context)",
        ),
        (
            errors.translate(refusal(409, "newer"), verb="patch", namespace="shop", name="web"),
            'the API server refused to patch releases in namespace "shop": 409 newer',
        ),
        (
            errors.translate(refusal(422, "bad"), verb="patch", namespace="shop", name="web"),
            'the API server refused to patch releases in namespace "shop": 422 bad',
        ),
        (
            errors.translate(ConnectionRefusedError(111, "Connection refused"), **WHERE),
            f"cannot reach the cluster at {SERVER}: Connection refused; check that it is running "
            "and that --kubeconfig/--context point at it",
        ),
        (
            errors.Unreachable("Connection refused", verb="watch", namespace="shop", name="web"),
            f"lost the connection to the cluster at {SERVER} while following release web: "
            "Connection refused",
        ),
        (
            errors.translate(ConfigException("expired token"), **WHERE),
            "the kubeconfig's credentials are not usable: expired token",
        ),
    ],
    ids=["401", "403", "404", "no CRD", "409", "422", "unreachable", "lost", "credentials"],
)
def test_the_cli_words_each_type_with_exit_code_3(error: errors.KubeError, sentence: str) -> None:
    failed = cluster_problem_of(error, SERVER)

    assert failed.exit_code is ExitCode.CLUSTER_PROBLEM
    assert failed.message == sentence
