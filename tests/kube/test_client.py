"""Where the connection comes from: the same source, read at call time, for Kopf and client."""

from __future__ import annotations

import base64
import pathlib
from typing import Any

import kubernetes.config
import pytest
import yaml

from greenlight.handlers.kopf_handlers import connection_info
from greenlight.kube import client as kube_client


def kubeconfig(server: str, *, token: str = "t0k3n", **extra: Any) -> dict[str, Any]:
    def context(name: str, namespace: str) -> dict[str, Any]:
        return {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "one", "cluster": {"server": server, "insecure-skip-tls-verify": True}},
            {"name": "two", "cluster": {"server": "https://two.example:6443", **extra}},
        ],
        "users": [
            {"name": "one", "user": {"token": token}},
            {"name": "two", "user": {"token": "t2"}},
        ],
        "contexts": [context("one", "shop"), context("two", "other")],
        "current-context": "one",
    }


def write(path: pathlib.Path, document: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture(autouse=True)
def outside_a_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def host_of(**options: Any) -> str:
    api = kube_client.load_api_client(**options)
    try:
        return str(api.configuration.host)
    finally:
        api.close()


def test_an_explicit_kubeconfig_is_used(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "config", kubeconfig("https://one.example:6443"))
    assert host_of(kubeconfig=path) == "https://one.example:6443"
    assert host_of(kubeconfig=path, context="two") == "https://two.example:6443"


def test_kubeconfig_variable_is_read_when_called_not_at_import(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write(tmp_path / "first", kubeconfig("https://first.example"))
    second = write(tmp_path / "second", kubeconfig("https://second.example"))
    monkeypatch.setenv("KUBECONFIG", first)
    assert host_of() == "https://first.example"
    monkeypatch.setenv("KUBECONFIG", second)
    assert host_of() == "https://second.example"


def test_home_kubeconfig_is_the_last_resort(tmp_path: pathlib.Path) -> None:
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    write(tmp_path / "home" / ".kube" / "config", kubeconfig("https://home.example"))
    assert host_of() == "https://home.example"


def test_in_cluster_uses_the_service_account_unless_a_kubeconfig_is_given(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_incluster(client_configuration: Any, **_: Any) -> None:
        client_configuration.host = "https://10.0.0.1:443"
        client_configuration.api_key["BearerToken"] = "bearer service-account-token"

    monkeypatch.setattr(kubernetes.config, "load_incluster_config", fake_incluster)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert host_of() == "https://10.0.0.1:443"
    info = connection_info()
    assert (info.server, info.token) == ("https://10.0.0.1:443", "service-account-token")

    path = write(tmp_path / "config", kubeconfig("https://one.example"))
    assert host_of(kubeconfig=path) == "https://one.example"


def test_connection_info_agrees_with_the_client(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "config", kubeconfig("https://one.example:6443", token="s3cret"))
    info = connection_info(kubeconfig=path)
    assert info.server == host_of(kubeconfig=path)
    assert info.token == "s3cret"
    assert info.insecure is True
    assert info.default_namespace == "shop"
    assert connection_info(kubeconfig=path, context="two").default_namespace == "other"


def test_connection_info_gives_paths_for_certificates_given_as_data(
    tmp_path: pathlib.Path,
) -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nfake\n").decode()
    document = kubeconfig("https://one.example", **{"certificate-authority-data": ca})
    path = write(tmp_path / "config", document)
    info = connection_info(kubeconfig=path, context="two")
    assert info.insecure is False
    assert info.ca_path is not None
    assert pathlib.Path(info.ca_path).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_the_pool_is_sized_for_the_worker_threads(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "config", kubeconfig("https://one.example"))
    api = kube_client.load_api_client(kubeconfig=path, pool_size=37)
    try:
        assert api.configuration.connection_pool_maxsize == 37
    finally:
        api.close()


def test_kubectls_order_prefers_an_existing_kubeconfig_over_the_service_account(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_incluster(client_configuration: Any, **_: Any) -> None:
        client_configuration.host = "https://10.0.0.1:443"

    monkeypatch.setattr(kubernetes.config, "load_incluster_config", fake_incluster)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBECONFIG", write(tmp_path / "config", kubeconfig("https://ci.example")))
    operator = kube_client.resolve()
    cli = kube_client.resolve(kubeconfig_first=True)
    assert operator.configuration.host == "https://10.0.0.1:443"
    assert cli.configuration.host == "https://ci.example"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert kube_client.resolve(kubeconfig_first=True).configuration.host == "https://10.0.0.1:443"


def test_an_unknown_context_is_refused_by_name(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "config", kubeconfig("https://one.example"))
    with pytest.raises(kube_client.KubeconfigProblem, match="context 'nope' is not in"):
        kube_client.resolve(kubeconfig=path, context="nope")
