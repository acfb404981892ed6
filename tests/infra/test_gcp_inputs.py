"""ScalableAgentFleet as a component on GCP: an explicit provider, and values from other resources.

These run the user's own program (not the stack program) under Pulumi's mocks, as
`agentfleet.synth.synthesize` does, with mocks that answer an invoke from the provider it was sent
to: `getClientConfig` sent to an explicit provider answers that provider's project and region.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest

from agentfleet.components.fleet import FleetArgs, ScalableAgentFleet
from agentfleet.components.network import FleetNetwork
from agentfleet.components.problems import ConfigError
from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers.base import FleetInputs
from agentfleet.synth import Synthesis, synthesize_program
from tests.infra.gcp_helpers import PROJECT, REGION
from tests.infra.helpers import BASE_FLEET, REGION_KEYS, deep_merge

OTHER_PROJECT = "platform-us"
OTHER_REGION = "us-central1"


def run(program: Callable[[], Any]) -> Synthesis:
    """Run `program` under the GCP mocks (agentfleet.synth) with the GCP stack keys set."""
    return synthesize_program(program, {"agentfleet:cloud": "gcp", **REGION_KEYS["gcp"]}, cloud="gcp")


def fleet_config(**override: Any) -> FleetConfig:
    return load_fleet_config("gcp", deep_merge(BASE_FLEET, override))


def _waited(fleet: ScalableAgentFleet) -> pulumi.Output[Any]:
    # Returned so the mock runtime waits for every output (pulumi/pulumi#2785, TESTING.md).
    return pulumi.Output.all(fleet.queue, fleet.send_work["cluster"])


# -- an explicit provider ------------------------------------------------------------------------


def test_an_explicit_provider_sets_the_project_and_region_of_every_resource() -> None:
    def program() -> Any:
        other = gcp.Provider("us", project=OTHER_PROJECT, region=OTHER_REGION)
        fleet = ScalableAgentFleet(
            "moodring",
            FleetArgs(cloud="gcp", config=fleet_config()),
            opts=pulumi.ResourceOptions(providers={"gcp": other}),
        )
        return _waited(fleet)

    s = run(program)
    provider = s.one("pulumi:providers:gcp")
    cluster = s.one("gcp:container/cluster:Cluster")
    assert (cluster.inputs["project"], cluster.inputs["location"]) == (OTHER_PROJECT, OTHER_REGION)
    assert s.one("gcp:compute/routerNat:RouterNat").inputs["region"] == OTHER_REGION
    topic = s.named("moodring-work")
    assert topic.inputs["project"] == OTHER_PROJECT
    binding = s.named("moodring-agent-workload-identity")
    assert binding.inputs["member"] == f"serviceAccount:{OTHER_PROJECT}.svc.id.goog[moodring/moodring-agent]"
    # Every GCP resource and every invoke goes to the explicit provider, never the default one.
    for r in s.resources:
        if r.type.startswith("gcp:"):
            assert r.provider.rsplit("::", 1)[0] == provider.urn, r.name
    gcp_calls = [c for c in s.invoke_providers if c[0].startswith("gcp:")]
    assert {token for token, _ in gcp_calls} >= {
        "gcp:organizations/getClientConfig:getClientConfig",
        "gcp:organizations/getProject:getProject",
    }
    assert all(used == provider.id for _, used in gcp_calls)
    assert PROJECT not in str([r.inputs for r in s.resources if r.type.startswith("gcp:")])


def test_without_a_provider_the_stack_settings_place_the_fleet() -> None:
    s = run(lambda: _waited(ScalableAgentFleet("moodring", FleetArgs(cloud="gcp", config=fleet_config()))))
    cluster = s.one("gcp:container/cluster:Cluster")
    assert (cluster.inputs["project"], cluster.inputs["location"]) == (PROJECT, REGION)
    client = [c for c in s.invoke_providers if c[0] == "gcp:organizations/getClientConfig:getClientConfig"]
    assert client and all(used == "" for _, used in client)


def test_fleets_and_their_network_under_one_explicit_provider() -> None:
    def program() -> Any:
        other = gcp.Provider("us", project=OTHER_PROJECT, region=OTHER_REGION)
        opts = pulumi.ResourceOptions(providers={"gcp": other})
        network = FleetNetwork("shared", "gcp", fleet_config(name="orders"), opts=opts)
        fleets = [
            ScalableAgentFleet(
                name, FleetArgs(cloud="gcp", config=fleet_config(name=name), network=network), opts=opts
            )
            for name in ("orders", "emails")
        ]
        return pulumi.Output.all(*[_waited(f) for f in fleets])

    s = run(program)
    cluster = s.one("gcp:container/cluster:Cluster")
    assert (cluster.inputs["project"], cluster.inputs["location"]) == (OTHER_PROJECT, OTHER_REGION)
    assert {r.inputs["project"] for r in s.of_type("gcp:pubsub/topic:Topic")} == {OTHER_PROJECT}


def test_a_fleet_on_another_provider_than_its_shared_network_is_refused() -> None:
    def program() -> Any:
        other = gcp.Provider("us", project=OTHER_PROJECT, region=OTHER_REGION)
        network = FleetNetwork("shared", "gcp", fleet_config(name="orders"))
        ScalableAgentFleet(
            "orders",
            FleetArgs(cloud="gcp", config=fleet_config(name="orders"), network=network),
            opts=pulumi.ResourceOptions(providers={"gcp": other}),
        )

    with pytest.raises(ConfigError, match="must be the shared network's"):
        run(program)


# -- FleetInputs ---------------------------------------------------------------------------------


def test_image_from_another_resource_runs_in_the_deployment() -> None:
    def program() -> Any:
        repo = gcp.artifactregistry.Repository(
            "images", location=REGION, repository_id="agents", format="DOCKER"
        )
        image = pulumi.Output.concat(
            repo.location, "-docker.pkg.dev/", PROJECT, "/", repo.repository_id, "/a:1.0"
        )
        fleet = ScalableAgentFleet(
            "moodring", FleetArgs(cloud="gcp", config=fleet_config(), inputs=FleetInputs(image=image))
        )
        return _waited(fleet)

    s = run(program)
    container = s.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{REGION}-docker.pkg.dev/{PROJECT}/agents/a:1.0"
    # Its registry is unknown before the deploy: no pull grant is guessed (the program says so).
    assert not s.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")


def test_network_and_subnetwork_from_other_resources_place_the_cluster_router_and_cache() -> None:
    def program() -> Any:
        vpc = gcp.compute.Network("vpc", name="agents-vpc", auto_create_subnetworks=False)
        subnet = gcp.compute.Subnetwork(
            "agents", name="agents", network=vpc.id, region=REGION, ip_cidr_range="10.8.0.0/20"
        )
        inputs = FleetInputs(network_id=vpc.id, subnet_ids=[subnet.id])
        config = fleet_config(state={"cache": True})
        return _waited(ScalableAgentFleet("moodring", FleetArgs(cloud="gcp", config=config, inputs=inputs)))

    s = run(program)
    vpc, subnet = s.named("vpc"), s.named("agents")
    assert vpc.id == f"projects/{PROJECT}/global/networks/agents-vpc"
    cluster = s.one("gcp:container/cluster:Cluster")
    assert cluster.inputs["network"] == vpc.id
    assert (
        cluster.inputs["subnetwork"] == subnet.id == f"projects/{PROJECT}/regions/{REGION}/subnetworks/agents"
    )
    assert s.one("gcp:compute/router:Router").inputs["network"] == vpc.id
    assert s.one("gcp:compute/firewall:Firewall").inputs["network"] == vpc.id
    assert s.one("gcp:redis/instance:Instance").inputs["authorizedNetwork"] == vpc.id


def test_a_network_input_of_another_project_is_refused_at_deploy() -> None:
    def program() -> Any:
        inputs = FleetInputs(network_id=pulumi.Output.from_input("projects/host/global/networks/shared"))
        return _waited(
            ScalableAgentFleet("moodring", FleetArgs(cloud="gcp", config=fleet_config(), inputs=inputs))
        )

    with pytest.raises(
        Exception, match="belongs to project host: a Shared VPC network is given as fleet.gcp.network"
    ):
        run(program)


def test_subnet_ids_must_hold_one_subnetwork() -> None:
    def program() -> Any:
        inputs = FleetInputs(subnet_ids=["a", "b"])
        ScalableAgentFleet("moodring", FleetArgs(cloud="gcp", config=fleet_config(), inputs=inputs))

    with pytest.raises(ConfigError, match="inputs.subnet_ids=2 must hold exactly one subnetwork on GCP"):
        run(program)


def test_an_existing_cluster_from_another_resource_is_looked_up_and_used() -> None:
    def program() -> Any:
        existing = gcp.container.Cluster("platform", name="platform", location=REGION, initial_node_count=1)
        inputs = FleetInputs(cluster_id=existing.id)
        return _waited(
            ScalableAgentFleet("moodring", FleetArgs(cloud="gcp", config=fleet_config(), inputs=inputs))
        )

    s = run(program)
    fleet = s.one("agentfleet:index:ScalableAgentFleet")
    assert [c.parent for c in s.of_type("gcp:container/cluster:Cluster")] != [fleet.urn]
    assert not s.of_type("gcp:compute/routerNat:RouterNat")
    lookups = [args for token, args in s.invokes if token == "gcp:container/getCluster:getCluster"]
    assert lookups == [{"name": "platform", "location": REGION, "project": PROJECT}]
    assert s.named("moodring-agent-pool").inputs["cluster"] == "platform"


def test_shared_network_takes_the_cluster_input_and_fleets_may_not() -> None:
    def program() -> Any:
        existing = gcp.container.Cluster("platform", name="platform", location=REGION, initial_node_count=1)
        network = FleetNetwork(
            "shared", "gcp", fleet_config(name="orders"), FleetInputs(cluster_id=existing.id)
        )
        fleets = [
            ScalableAgentFleet(name, FleetArgs(cloud="gcp", config=fleet_config(name=name), network=network))
            for name in ("orders", "emails")
        ]
        return pulumi.Output.all(*[_waited(f) for f in fleets])

    s = run(program)
    pools = {r.inputs["name"]: r.inputs["cluster"] for r in s.of_type("gcp:container/nodePool:NodePool")}
    assert pools == {"orders-agents": "platform", "emails-agents": "platform"}

    def on_the_fleet() -> Any:
        network = FleetNetwork("shared", "gcp", fleet_config(name="orders"))
        inputs = FleetInputs(cluster_id="platform")
        ScalableAgentFleet(
            "orders",
            FleetArgs(cloud="gcp", config=fleet_config(name="orders"), network=network, inputs=inputs),
        )

    with pytest.raises(ConfigError, match="inputs.cluster_id=.* must be given to the FleetNetwork"):
        run(on_the_fleet)


def test_a_network_name_gcp_cannot_use_is_refused_before_its_resources_register() -> None:
    def program() -> Any:
        FleetNetwork("Platform_Net", "gcp", fleet_config(name="orders"))

    with pytest.raises(ConfigError, match="FleetNetwork name='Platform_Net' must be 3-24 chars on GCP"):
        run(program)
