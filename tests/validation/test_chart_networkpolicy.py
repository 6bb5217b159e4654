"""The chart's NetworkPolicy of the API: off by default; when on, the API pods' port admits
only the operator, the ingress controller's namespaces and the configured peers."""

from __future__ import annotations

from tests.validation import rendering


def test_no_network_policy_unless_asked() -> None:
    docs = rendering.render(rendering.scenario("default-values.yaml"))
    assert [d for d in docs if d and d.get("kind") == "NetworkPolicy"] == []


def test_the_network_policy_admits_only_the_configured_peers() -> None:
    docs = rendering.render(rendering.scenario("networkpolicy-values.yaml"))
    policy = rendering.one(docs, "NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    peers = rule["from"]
    operator = peers[0]["podSelector"]["matchLabels"]
    assert operator["app.kubernetes.io/component"] == "operator"
    assert "namespaceSelector" not in peers[0]  # the operator of this release's namespace
    ingress_nginx = {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    assert {"namespaceSelector": ingress_nginx} in peers
    assert {"ipBlock": {"cidr": "10.0.0.0/16"}} in peers
    assert len(peers) == 4
