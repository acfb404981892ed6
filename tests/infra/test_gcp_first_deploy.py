"""What a real Google Cloud project does on the first `pulumi up` (and every one after) that the
mocks would not: custom-mode and Shared VPC networks, Pulumi's Deployment wait, CI credentials,
rollouts at full size, the control plane's exposure, and `pulumi destroy` on a bucket in use."""

from __future__ import annotations

import math

import pytest
import yaml

from agentfleet.components.problems import ConfigError
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers.gcp.mocks import dns_endpoint
from agentfleet.providers.gcp.sizing import pods_per_node
from tests.infra.gcp_helpers import PROJECT, REGION, gcp_synth
from tests.infra.helpers import BASE_FLEET, deep_merge, synth

HOST = "acme-network-host"
SHARED = {
    "network": f"projects/{HOST}/global/networks/shared",
    "subnetwork": f"projects/{HOST}/regions/{REGION}/subnetworks/agents",
    "pods_range": "agents-pods",
    "services_range": "agents-services",
}


def _problems(fleet: dict) -> list[str]:
    try:
        load_fleet_config("gcp", deep_merge(BASE_FLEET, fleet))
    except ConfigError as error:
        return str(error).splitlines()
    return []


# 1. Custom-mode and Shared VPC networks


def test_custom_mode_network_gets_its_subnetwork_and_secondary_ranges() -> None:
    gcp = {"network": "agents", "subnetwork": "agents-eu", "pods_range": "pods", "services_range": "svcs"}
    cluster = gcp_synth({"gcp": gcp}).one("gcp:container/cluster:Cluster").inputs
    assert (cluster["network"], cluster["subnetwork"]) == ("agents", "agents-eu")
    assert cluster["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "svcs",
    }


def test_shared_vpc_creates_no_router_nat_or_firewall_on_the_host_projects_network() -> None:
    s = gcp_synth({"gcp": SHARED})
    for token in (
        "gcp:compute/router:Router",
        "gcp:compute/routerNat:RouterNat",
        "gcp:compute/firewall:Firewall",
    ):
        assert s.of_type(token) == [], token
    cluster = s.one("gcp:container/cluster:Cluster").inputs
    assert (cluster["network"], cluster["subnetwork"]) == (SHARED["network"], SHARED["subnetwork"])
    assert cluster["ipAllocationPolicy"]["clusterSecondaryRangeName"] == "agents-pods"
    assert not any(r.inputs.get("project") == HOST for r in s.resources)


def test_a_network_path_in_this_project_is_not_shared_vpc() -> None:
    s = gcp_synth({"gcp": {"network": f"projects/{PROJECT}/global/networks/agents"}})
    assert (
        s.one("gcp:compute/router:Router").inputs["network"] == f"projects/{PROJECT}/global/networks/agents"
    )
    assert len(s.of_type("gcp:compute/firewall:Firewall")) == 1


def test_shared_vpc_without_subnetwork_and_ranges_stops_before_any_resource() -> None:
    with pytest.raises(ConfigError) as caught:
        synth("gcp", {"gcp": {"network": SHARED["network"]}})
    assert str(caught.value).splitlines() == [
        f"agentfleet: fleet.gcp.subnetwork must be the full path of a subnetwork of the Shared VPC "
        f"host project {HOST} (projects/{HOST}/regions/{REGION}/subnetworks/NAME)",
        "agentfleet: fleet.gcp.pods_range must name the Shared VPC subnetwork's secondary range "
        "for pods (a service project cannot create ranges in the host project)",
        "agentfleet: fleet.gcp.services_range must name the Shared VPC subnetwork's secondary range for "
        "services (a service project cannot create ranges in the host project)",
    ]


@pytest.mark.parametrize(
    ("gcp", "line"),
    [
        (
            {"subnetwork": "a", "pods_range": "pods"},
            "agentfleet: fleet.gcp.services_range must be set together with the other secondary range "
            "(pods_range and services_range)",
        ),
        (
            {"cluster": "shared-gke", "subnetwork": "agents"},
            "agentfleet: fleet.gcp.subnetwork='agents' applies only to a cluster this program creates; "
            "leave it unset with gcp.cluster",
        ),
        (
            {"subnetwork": "https://x/y"},
            "agentfleet: fleet.gcp.subnetwork='https://x/y' must be a subnetwork name or "
            "'projects/PROJECT/regions/REGION/subnetworks/NAME'",
        ),
    ],
)
def test_network_settings_are_checked_before_anything_registers(gcp: dict, line: str) -> None:
    assert line in _problems({"gcp": gcp})


# 2. Pulumi's 10-minute Deployment wait


def test_deployment_waits_long_enough_for_a_node_from_zero_and_the_warmup() -> None:
    timeouts = (
        gcp_synth({"scaling": {"warmup_seconds": 3600}}).one("kubernetes:apps/v1:Deployment").custom_timeouts
    )
    create, update = (int(timeouts[k].removesuffix("s")) for k in ("create", "update"))
    assert create >= 600 + 3600
    assert update >= create


def test_a_larger_fleet_waits_a_warmup_per_surge_wave() -> None:
    def update(max_agents: int) -> int:
        d = gcp_synth({"scaling": {"max_agents": max_agents, "warmup_seconds": 300}}).one(
            "kubernetes:apps/v1:Deployment"
        )
        return int(d.custom_timeouts["update"].removesuffix("s"))

    # 25% surge: 4 waves of 300 s warm-up at least, whatever the size.
    assert update(40) >= 4 * 300 + 600
    assert update(1) >= 300 + 600


# 3. Application Default Credentials for the kubeconfig


def _exec(s) -> dict:
    kubeconfig = yaml.safe_load(s.one("pulumi:providers:kubernetes").inputs["kubeconfig"])
    return kubeconfig["users"][0]["user"]["exec"]


def test_kubeconfig_uses_the_gcloud_login_by_default() -> None:
    assert "args" not in _exec(gcp_synth())


@pytest.mark.parametrize("cluster", [None, "shared-gke"])
def test_kubeconfig_can_sign_in_with_application_default_credentials(cluster: str | None) -> None:
    gcp = {"kubernetes_credentials": "application-default", **({"cluster": cluster} if cluster else {})}
    plugin = _exec(gcp_synth({"gcp": gcp}))
    assert plugin["command"] == "gke-gcloud-auth-plugin"
    assert plugin["args"] == ["--use_application_default_credentials"]


def test_an_unknown_credentials_mode_is_a_config_error() -> None:
    assert any(
        line.startswith("agentfleet: fleet.gcp.kubernetes_credentials")
        for line in _config_errors({"gcp": {"kubernetes_credentials": "keyfile"}})
    )


def _config_errors(fleet: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        synth("gcp", fleet)
    return str(caught.value).splitlines()


# 4. A rollout at full size has room for its surge pods


@pytest.mark.parametrize(
    ("machine_type", "max_agents"), [("e2-standard-2", 20), ("e2-standard-4", 14), ("x-y", 3)]
)
def test_agent_pool_fits_max_agents_plus_the_rollouts_surge(machine_type: str, max_agents: int) -> None:
    s = gcp_synth({"scaling": {"max_agents": max_agents}, "gcp": {"machine_type": machine_type}})
    pool_max = s.named("moodring-agent-pool").inputs["autoscaling"]["totalMaxNodeCount"]
    strategy = s.one("kubernetes:apps/v1:Deployment").inputs["spec"]["strategy"]["rollingUpdate"]
    assert (strategy["maxSurge"], strategy["maxUnavailable"]) == ("25%", 0)
    surge = math.ceil(max_agents * 0.25)
    assert pool_max * pods_per_node(machine_type) >= max_agents + surge


# 5. The control plane's exposure


def test_control_plane_ip_endpoint_is_closed_by_default_and_reached_through_its_dns_endpoint() -> None:
    s = gcp_synth()
    cluster = s.one("gcp:container/cluster:Cluster")
    authorized = cluster.inputs["masterAuthorizedNetworksConfig"]
    assert authorized.get("cidrBlocks", []) == []
    assert authorized["gcpPublicCidrsAccessEnabled"] is False
    assert cluster.inputs["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is True
    kubeconfig = yaml.safe_load(s.one("pulumi:providers:kubernetes").inputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{dns_endpoint('moodring', REGION)}"


def test_listed_control_plane_cidrs_are_the_only_authorized_networks() -> None:
    cidrs = ["203.0.113.7/32", "198.51.100.0/24"]
    authorized = (
        gcp_synth({"gcp": {"control_plane_cidrs": cidrs}})
        .one("gcp:container/cluster:Cluster")
        .inputs["masterAuthorizedNetworksConfig"]
    )
    assert [b["cidrBlock"] for b in authorized["cidrBlocks"]] == cidrs


@pytest.mark.parametrize("cidr", ["203.0.113.7", "10.0.0.1/8", "2001:db8::/32", "any"])
def test_control_plane_cidrs_must_be_ipv4_networks(cidr: str) -> None:
    # "203.0.113.7" alone is accepted by ipaddress as a /32, the others are not networks GKE takes.
    problems = _problems({"gcp": {"control_plane_cidrs": [cidr]}})
    assert (cidr == "203.0.113.7") == (problems == [])


# 7. pulumi destroy on a bucket that still holds objects


def test_bucket_keeps_its_objects_on_destroy_unless_asked() -> None:
    assert gcp_synth().one("gcp:storage/bucket:Bucket").inputs.get("forceDestroy", False) is False
    bucket = gcp_synth({"gcp": {"force_destroy_bucket": True}}).one("gcp:storage/bucket:Bucket")
    assert bucket.inputs["forceDestroy"] is True


# Every cloud: an image must name one build


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("ghcr.io/acme/agent", False),
        ("ghcr.io/acme/agent:latest", False),
        ("localhost:5000/agent", False),
        ("ghcr.io/acme/agent:1.4.2", True),
        ("localhost:5000/agent:1.4.2", True),
        ("ghcr.io/acme/agent@sha256:" + "a" * 64, True),
    ],
)
def test_an_image_without_a_tag_or_digest_or_with_latest_is_a_config_error(image: str, ok: bool) -> None:
    problems = [
        p for p in _problems({"agent": {"image": image}}) if p.startswith("agentfleet: fleet.agent.image")
    ]
    assert (problems == []) == ok, problems
