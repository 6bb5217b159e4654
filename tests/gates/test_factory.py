"""The gate factory: the only place that names gate kinds, and its errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from greenlight import validation
from greenlight.gates import factory
from greenlight.gates.http import HttpGate
from greenlight.kube.transports import ApiServerProxyTransport, DirectTransport, transport_for
from greenlight.models import GateSpec
from greenlight.settings import OperatorSettings, ProbeVia


class NoTransport:
    async def get(self, **_: Any) -> tuple[int, str]:
        raise AssertionError("a gate was probed while being built")

    async def aclose(self) -> None:
        pass


def gate_spec(**fields: Any) -> GateSpec:
    return GateSpec.model_validate({"name": "readyz", **fields})


def test_an_http_gate_is_built_with_its_spec_and_transport() -> None:
    transport = NoTransport()
    built = factory.build_gate(gate_spec(http={"path": "/ok"}), "spec.gates[0]", transport)
    assert isinstance(built, HttpGate)
    assert built.spec.path == "/ok"
    assert built.transport is transport


def test_an_unknown_kind_is_refused_naming_its_field() -> None:
    with pytest.raises(factory.UnsupportedGate) as raised:
        factory.build_gate(gate_spec(tcp={"port": 5432}), "spec.gates[1]", NoTransport())
    assert raised.value.field == "spec.gates[1].tcp"
    assert "not a gate kind" in raised.value.message
    assert "http" in raised.value.message
    assert str(raised.value).startswith("spec.gates[1].tcp ")


def test_a_gate_with_no_kind_is_refused_naming_the_gate() -> None:
    with pytest.raises(factory.UnsupportedGate) as raised:
        factory.build_gate(gate_spec(), "spec.verification.gates[0]", NoTransport())
    assert raised.value.field == "spec.verification.gates[0]"
    assert "declares no probe" in raised.value.message


def test_an_unknown_kind_beside_a_known_one_is_still_refused() -> None:
    problem = factory.check_gate(gate_spec(http={}, grpc={}), "spec.gates[0]")
    assert problem is not None
    assert problem.field == "spec.gates[0].grpc"


def test_check_gate_finds_no_problem_in_a_good_gate() -> None:
    assert factory.check_gate(gate_spec(http={"path": "/"}), "spec.gates[0]") is None


def test_the_transport_follows_probe_via() -> None:
    direct = transport_for(OperatorSettings(probe_via=ProbeVia.DIRECT), api_client=None)
    assert isinstance(direct, DirectTransport)
    assert direct.url(namespace="shop", service="web", port=80, path="/readyz") == (
        "http://web.shop.svc.cluster.local:80/readyz"
    )
    settings = OperatorSettings(probe_via=ProbeVia.DIRECT, cluster_domain="corp.internal")
    custom = transport_for(settings, api_client=None)
    assert isinstance(custom, DirectTransport)
    assert (
        custom.url(namespace="a", service="b", port=1, path="/")
        == "http://b.a.svc.corp.internal:1/"
    )
    proxied = transport_for(OperatorSettings(probe_via=ProbeVia.APISERVER), api_client=None)
    assert isinstance(proxied, ApiServerProxyTransport)


def test_the_validated_spec_builds_every_gate_once_by_the_field_that_declares_it() -> None:
    template = {
        "spec": {
            "containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 80}]}]
        }
    }
    valid = validation.validate_spec(
        {
            "template": template,
            "gates": [{"name": "ready", "http": {"path": "/ready"}}],
            "verification": {"gates": [{"name": "smoke", "http": {"path": "/smoke", "port": 81}}]},
        }
    )
    assert isinstance(valid, validation.ValidSpec)
    transport = NoTransport()
    gates = valid.gates(transport)
    assert sorted(gates) == ["spec.gates[0]", "spec.verification.gates[0]"]
    smoke = gates["spec.verification.gates[0]"]
    assert isinstance(smoke, HttpGate)
    assert (smoke.spec.path, smoke.spec.port, smoke.transport) == ("/smoke", 81, transport)
    without = validation.validate_spec({"template": template})
    assert isinstance(without, validation.ValidSpec)
    assert without.gates(transport) == {}  # no verification is an empty one: no gates
