"""Several fleets in one GCP stack (`agentfleet:fleets`): one network and cluster, fleets kept apart."""

from __future__ import annotations

import functools
from collections import Counter

import pytest

from agentfleet.components.problems import ConfigError
from agentfleet.synth import Synthesis
from tests.infra.gcp_helpers import PROJECT, REGION
from tests.infra.helpers import synth_fleets

NETWORK = "agentfleet:index:FleetNetwork"
FLEET = "agentfleet:index:ScalableAgentFleet"


@functools.lru_cache(maxsize=4)
def two_fleets(preview: bool = False) -> Synthesis:
    return synth_fleets("gcp", [{"name": "orders"}, {"name": "emails"}], preview=preview)


def _fleet(s: Synthesis, name: str) -> str:
    return next(r.urn for r in s.of_type(FLEET) if r.name == name)


def test_one_network_one_cluster_one_nat_one_keda_for_two_fleets() -> None:
    s = two_fleets()
    network = s.one(NETWORK)
    for typ in (
        "gcp:container/cluster:Cluster",
        "gcp:compute/router:Router",
        "gcp:compute/routerNat:RouterNat",
        "gcp:compute/firewall:Firewall",
        "kubernetes:helm.sh/v3:Release",
        "pulumi:providers:kubernetes",
    ):
        assert s.one(typ).parent == network.urn, typ
    assert s.one("gcp:container/cluster:Cluster").inputs["name"] == "shared"
    assert s.named("shared-system-pool").parent == network.urn
    # The APIs every fleet needs are enabled once, by the network.
    services = Counter(r.inputs["service"] for r in s.of_type("gcp:projects/service:Service"))
    assert set(services.values()) == {1}


def test_each_fleet_has_its_own_queue_identity_pool_and_workload() -> None:
    s = two_fleets()
    topics = {r.inputs["name"]: r.parent for r in s.of_type("gcp:pubsub/topic:Topic")}
    assert topics == {
        "orders-work": _fleet(s, "orders"),
        "orders-dead-letter": _fleet(s, "orders"),
        "emails-work": _fleet(s, "emails"),
        "emails-dead-letter": _fleet(s, "emails"),
    }
    accounts = {r.inputs["accountId"]: r.parent for r in s.of_type("gcp:serviceaccount/account:Account")}
    network = s.one(NETWORK).urn
    assert accounts == {
        "orders-agent": _fleet(s, "orders"),
        "orders-nodes": _fleet(s, "orders"),
        "emails-agent": _fleet(s, "emails"),
        "emails-nodes": _fleet(s, "emails"),
        "shared-nodes": network,
        "shared-keda": network,
    }
    namespaces = {r.inputs["metadata"]["name"] for r in s.of_type("kubernetes:core/v1:Namespace")}
    assert namespaces == {"orders", "emails"}
    assert len(s.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")) == 2


def test_both_fleets_run_in_the_shared_cluster() -> None:
    s = two_fleets()
    cluster = s.one("gcp:container/cluster:Cluster")
    provider = s.one("pulumi:providers:kubernetes")
    pools = {r.inputs["name"]: r for r in s.of_type("gcp:container/nodePool:NodePool")}
    assert set(pools) == {"system", "orders-agents", "emails-agents"}
    for fleet in ("orders", "emails"):
        pool = pools[f"{fleet}-agents"]
        assert pool.parent == _fleet(s, fleet)
        assert pool.inputs["cluster"] == cluster.outputs["name"]
        # Its nodes run as the fleet's own account, tainted for its agents only.
        assert (
            pool.inputs["nodeConfig"]["serviceAccount"] == f"{fleet}-nodes@{PROJECT}.iam.gserviceaccount.com"
        )
        assert pool.inputs["nodeConfig"]["taints"][0]["value"] == fleet
    for deployment in s.of_type("kubernetes:apps/v1:Deployment"):
        assert deployment.provider.rsplit("::", 1)[0] == provider.urn
    scaled = s.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
    keda = s.one("kubernetes:helm.sh/v3:Release")
    assert all(keda.urn in so.depends_on for so in scaled)
    assert s.outputs["fleets"]["orders"]["cluster"] == s.outputs["fleets"]["emails"]["cluster"] == "shared"


def test_shared_keda_is_bound_to_its_own_operator_account() -> None:
    s = two_fleets()
    binding = s.named("shared-keda-workload-identity")
    assert binding.inputs["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[keda/keda-operator-shared]"
    values = s.one("kubernetes:helm.sh/v3:Release").inputs["values"]
    assert values["serviceAccount"]["operator"]["name"] == "keda-operator-shared"


def test_every_resource_name_is_unique_and_outputs_are_per_fleet() -> None:
    for preview in (False, True):
        urns = [r.urn for r in two_fleets(preview).resources]
        assert len(urns) == len(set(urns))
    s = two_fleets()
    assert set(s.outputs["fleets"]) == {"orders", "emails"}
    assert s.outputs["cloud"] == "gcp"
    assert s.outputs["fleets"]["orders"]["topic"] == f"projects/{PROJECT}/topics/orders-work"
    assert s.outputs["fleets"]["emails"]["topic"] == f"projects/{PROJECT}/topics/emails-work"
    # Cloud-side names are unique too (two fleets never ask GCP for the same id).
    for typ, key in (
        ("gcp:serviceaccount/account:Account", "accountId"),
        ("gcp:container/nodePool:NodePool", "name"),
        ("gcp:pubsub/subscription:Subscription", "name"),
    ):
        names = [r.inputs[key] for r in s.of_type(typ)]
        assert len(names) == len(set(names)), typ


def test_fleets_on_an_existing_cluster_share_it_and_one_keda() -> None:
    s = synth_fleets("gcp", [{"name": "orders", "gcp": {"cluster": "platform"}}, {"name": "emails"}])
    assert not s.of_type("gcp:container/cluster:Cluster")
    assert not s.of_type("gcp:compute/routerNat:RouterNat")
    pools = [r for r in s.of_type("gcp:container/nodePool:NodePool")]
    assert sorted(p.inputs["cluster"] for p in pools) == ["platform", "platform"]
    assert s.one("kubernetes:helm.sh/v3:Release").parent == s.one(NETWORK).urn
    lookups = [args for token, args in s.invokes if token == "gcp:container/getCluster:getCluster"]
    assert lookups == [{"name": "platform", "location": REGION, "project": PROJECT}]


def test_a_fleet_asking_for_another_network_than_the_shared_one_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"fleet.gcp.network='other-vpc' must be unset: the fleets of a stack share"
    ):
        synth_fleets("gcp", [{"name": "orders"}, {"name": "emails", "gcp": {"network": "other-vpc"}}])


def test_fleets_may_differ_in_what_is_their_own() -> None:
    s = synth_fleets(
        "gcp",
        [
            {"name": "orders"},
            {"name": "emails", "gcp": {"machine_type": "e2-standard-4"}, "compute": {"spot": True}},
        ],
    )
    pools = {r.inputs["name"]: r.inputs["nodeConfig"] for r in s.of_type("gcp:container/nodePool:NodePool")}
    assert pools["emails-agents"]["machineType"] == "e2-standard-4" and pools["emails-agents"]["spot"] is True
    assert pools["orders-agents"]["machineType"] == "e2-standard-2"


def test_a_fleet_named_like_the_shared_network_is_refused() -> None:
    # The loader refuses it first (components/validation.py shared_network_name), naming the key.
    with pytest.raises(ConfigError, match=r"agentfleet:network='shared' is also the name of fleets\[1\]"):
        synth_fleets("gcp", [{"name": "orders"}, {"name": "shared"}])
