"""GKE for the fleet: a new cluster (or the user's existing `gcp.cluster`) and the agents' node pool.

A new cluster has Workload Identity on (pods get Google identities without keys), private nodes
(no public node IPs; a Cloud NAT gives them egress to pull the agent image and KEDA), a release
channel (GKE keeps the control plane and nodes patched), and a small on-demand system pool for
kube-system and KEDA, so the agent pool can scale to zero nodes. An existing cluster is looked up
with the `container.getCluster` invoke and only gets the agent pool.

The agent pool's autoscaling bounds follow the fleet size: just enough nodes for min_agents ..
max_agents pods of the size settings.py gives one agent. Auto-repair and auto-upgrade are on; Spot
VMs when `compute.spot`. When the agent image is in Artifact Registry, the nodes' account gets
reader on that one repository. Agent pods are steered onto it by a label and a taint, so system pods
never land on Spot nodes and agents never crowd the system pool.

A private cluster's control plane may reach its nodes only on 443 and 10250 (GKE's own firewall
rule), but it calls KEDA's metrics server (the `external.metrics.k8s.io` APIService, port 6443)
and KEDA's admission webhooks (9443) on the pods themselves. A firewall rule opens exactly those
two ports from the control plane's range to the system pool, which runs KEDA; without it the HPA
gets no backlog metric and never scales past one pod. An existing cluster must allow them already,
and so must a Shared VPC host project (network.py): its firewall is not this program's to change.

The control plane's IP endpoint accepts only `gcp.control_plane_cidrs` (none by default, and not
Google Cloud's public addresses either). The program, and an operator's kubectl, reach it through
its DNS endpoint instead, where every request is checked by IAM, from any network: safe by default
without knowing the deploying machine's address.

The kubeconfig signs in with `gke-gcloud-auth-plugin`, using the operator's gcloud login or, with
`gcp.kubernetes_credentials: application-default`, Application Default Credentials (CI runners
with a key file or workload identity federation and no gcloud login).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.gcp.apis import Apis
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.network import Network
from agentfleet.providers.gcp.settings import GcpSettings, Placement
from agentfleet.providers.gcp.sizing import agent_pool_bounds

RELEASE_CHANNEL = "REGULAR"
#: The /28 the private control plane is peered into; must not overlap the VPC's ranges.
MASTER_CIDR = "172.16.0.32/28"
#: Label and taint that keep agent pods and other pods apart.
POOL_LABEL = "agentfleet.io/fleet"
SYSTEM_MACHINE_TYPE = "e2-standard-2"
#: `initial_node_count` is per zone on a regional cluster.
SYSTEM_INITIAL_NODES_PER_ZONE = 1
NODE_ROLE = "roles/container.defaultNodeServiceAccount"
OAUTH_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
IMAGE_PULL_ROLE = "roles/artifactregistry.reader"
_ARTIFACT_REGISTRY_IMAGE = re.compile(
    r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[a-z][-a-z0-9]*)/(?P<repository>[a-z0-9][-a-z0-9]*)/"
)
#: Ports the control plane calls on KEDA's pods: metrics server (APIService) and admission webhooks.
KEDA_CONTROL_PLANE_PORTS = ("6443", "9443")


@dataclass
class NodeAccount:
    """The Google service account nodes run as, and its node role."""

    account: gcp.serviceaccount.Account
    grant: gcp.projects.IAMMember


@dataclass
class ControlPlane:
    """A cluster (created here, or the user's) and, for a new one, its system pool and firewall."""

    name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    created: gcp.container.Cluster | None
    ready: list[pulumi.Resource]
    nodes: NodeAccount


@dataclass
class Cluster:
    name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    agent_pool: gcp.container.NodePool
    created: gcp.container.Cluster | None
    ready: list[pulumi.Resource]


_CLUSTER_PATH = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/clusters/(?P<name>[^/]+)$"
)


def cluster_reference(existing: str, placement: Placement) -> dict[str, str]:
    """Name, location and project of an existing cluster given by name (in `placement`) or by its
    full path `projects/P/locations/L/clusters/N` (a `gcp.container.Cluster`'s id).

    Its workload pool must be the fleet's project's, where the Workload Identity bindings are made.
    """
    found = _CLUSTER_PATH.match(existing)
    if found is None:
        return {"name": existing, "location": placement.region, "project": placement.project}
    if found["project"] != placement.project:
        raise ValueError(
            f"cluster {existing} is in project {found['project']}, not {placement.project}: the fleet's "
            "Workload Identity bindings name its own project's workload pool"
        )
    return found.groupdict()


#: gke-gcloud-auth-plugin's flag for signing in with Application Default Credentials, not gcloud's login.
ADC_FLAG = "--use_application_default_credentials"


def kubeconfig(
    name: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    ca_certificate: pulumi.Input[str] | None,
    *,
    credentials: str = "gcloud",
) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `gke-gcloud-auth-plugin`.

    `credentials` is `gcloud` (the operator's gcloud login) or `application-default` (the plugin's
    `--use_application_default_credentials`). Without a CA certificate (the DNS endpoint, which
    serves a publicly trusted certificate) the client verifies the server with the system's roots.
    """

    def render(args: list[str]) -> str:
        cluster, host, ca = args
        return "\n".join(
            [
                "apiVersion: v1",
                "kind: Config",
                "clusters:",
                f"- name: {cluster}",
                "  cluster:",
                *([f"    certificate-authority-data: {ca}"] if ca else []),
                f"    server: https://{host}",
                "contexts:",
                f"- name: {cluster}",
                "  context:",
                f"    cluster: {cluster}",
                f"    user: {cluster}",
                f"current-context: {cluster}",
                "users:",
                f"- name: {cluster}",
                "  user:",
                "    exec:",
                "      apiVersion: client.authentication.k8s.io/v1beta1",
                "      command: gke-gcloud-auth-plugin",
                *(["      args:", f"      - {ADC_FLAG}"] if credentials == "application-default" else []),
                "      installHint: gcloud components install gke-gcloud-auth-plugin",
                "      provideClusterInfo: true",
                "",
            ]
        )

    return pulumi.Output.all(name, endpoint, ca_certificate or "").apply(render)


def node_service_account(
    names: Names, placement: Placement, opts: pulumi.ResourceOptions, iam_api: pulumi.Resource
) -> NodeAccount:
    """Nodes run as a minimal account (logs, metrics, image pulls), not the default compute account.

    Creating a service account needs the IAM API on, so the account waits for it (a fresh project
    answers "IAM API has not been used in project" otherwise).
    """
    account = gcp.serviceaccount.Account(
        f"{names.fleet}-nodes",
        account_id=names.account_id("nodes"),
        display_name=f"agentfleet {names.fleet} GKE nodes",
        project=placement.project,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[iam_api])),
    )
    grant = gcp.projects.IAMMember(
        f"{names.fleet}-nodes-default-node-role",
        project=placement.project,
        role=NODE_ROLE,
        member=account.member,
        opts=opts,
    )
    return NodeAccount(account, grant)


def artifact_registry_repository(image: str) -> tuple[str, str, str] | None:
    """(location, project, repository) of an Artifact Registry image, None for any other registry."""
    m = _ARTIFACT_REGISTRY_IMAGE.match(image)
    return (m.group("location"), m.group("project"), m.group("repository")) if m else None


def image_pull_grant(
    image: pulumi.Input[str],
    names: Names,
    account: gcp.serviceaccount.Account,
    opts: pulumi.ResourceOptions,
    placement: Placement,
) -> gcp.artifactregistry.RepositoryIamMember | None:
    """Reader on the agent image's Artifact Registry repository for the nodes, which pull it.

    `roles/container.defaultNodeServiceAccount` carries no Artifact Registry read, so without this
    an image in a private repository never pulls (ImagePullBackOff) and the rollout times out.
    Public registries (ghcr.io, Docker Hub) need nothing.

    An image that comes from another resource (`FleetInputs.image`) is not known before the deploy,
    and whether a grant exists cannot wait for it (a preview must show it): no grant is made, and
    the program says which account needs reader on the image's repository (docs/gcp.md).
    """
    if not isinstance(image, str):
        pulumi.log.warn(
            f"fleet {names.fleet}: the agent image comes from another resource, so agentfleet cannot "
            "tell its registry before the deploy and grants no image pull; if it is in a private "
            "Artifact Registry repository, grant roles/artifactregistry.reader on it to "
            f"{names.account_id('nodes')}@{placement.project}.iam.gserviceaccount.com (docs/gcp.md)"
        )
        return None
    found = artifact_registry_repository(image)
    if found is None:
        return None
    location, project, repository = found
    return gcp.artifactregistry.RepositoryIamMember(
        f"{names.fleet}-nodes-image-pull",
        project=project,
        location=location,
        repository=repository,
        role=IMAGE_PULL_ROLE,
        member=account.member,
        opts=opts,
    )


def _node_config(
    machine_type: str,
    spot: bool,
    account: gcp.serviceaccount.Account,
    fleet: str | None,
    tags: list[str] | None = None,
) -> gcp.container.NodePoolNodeConfigArgs:
    return gcp.container.NodePoolNodeConfigArgs(
        machine_type=machine_type,
        tags=tags,
        spot=spot,
        service_account=account.email,
        oauth_scopes=[OAUTH_SCOPE],
        workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
            mode="GKE_METADATA"
        ),
        labels={POOL_LABEL: fleet} if fleet else None,
        taints=[gcp.container.NodePoolNodeConfigTaintArgs(key=POOL_LABEL, value=fleet, effect="NO_SCHEDULE")]
        if fleet
        else None,
    )


def build_control_plane(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    *,
    apis: Apis,
    network: Network,
    existing: pulumi.Input[str] | None,
) -> ControlPlane:
    """A new cluster with its system pool, or the `existing` one (a name, or its full path).

    The GKE API gates the cluster, the IAM API the node service account and the Compute API the
    firewall rule, so a fresh project enables each API first.
    """
    names = Names(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    nodes = node_service_account(names, placement, opts, apis["iam"])
    account, grant = nodes.account, nodes.grant
    after_api = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[apis["container"]]))
    after_compute = pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(depends_on=[apis["container"], apis["compute"]])
    )
    ready: list[pulumi.Resource] = []
    created: gcp.container.Cluster | None = None
    settings = config.settings_for(GcpSettings)

    if existing is None:
        created = gcp.container.Cluster(
            names.fleet,
            name=names.fleet,
            project=placement.project,
            location=placement.region,
            network=network.name,
            # A custom-mode network has no subnetwork GKE could pick for the cluster.
            subnetwork=network.subnetwork,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=settings.pods_range,
                services_secondary_range_name=settings.services_range,
            ),
            remove_default_node_pool=True,
            initial_node_count=1,
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{placement.project}.svc.id.goog"
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True, enable_private_endpoint=False, master_ipv4_cidr_block=MASTER_CIDR
            ),
            # "Enabled master authorized networks will disallow all external traffic to access
            # Kubernetes master through HTTPS except traffic from the given CIDR blocks, Google
            # Compute Engine Public IPs and Google Prod IPs"; the Compute Engine public IPs are off.
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=cidr, display_name=f"agentfleet control_plane_cidrs {i + 1}"
                    )
                    for i, cidr in enumerate(settings.control_plane_cidrs)
                ],
                gcp_public_cidrs_access_enabled=False,
            ),
            # The DNS endpoint: "Controls whether user traffic is allowed over this endpoint";
            # requests on it are authorised by IAM, so it needs no address allowlist.
            control_plane_endpoints_config=gcp.container.ClusterControlPlaneEndpointsConfigArgs(
                dns_endpoint_config=gcp.container.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                    allow_external_traffic=True
                )
            ),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=RELEASE_CHANNEL),
            deletion_protection=False,
            resource_labels={"agentfleet-fleet": config.name},
            opts=after_api,
        )
        system_pool = gcp.container.NodePool(
            f"{names.fleet}-system-pool",
            name="system",
            project=placement.project,
            cluster=created.name,
            location=placement.region,
            # Nodes from the start (one per zone): kube-system and KEDA's Helm release (atomic,
            # 5-minute wait) must not hang on a scale-up from zero. The autoscaler owns the size
            # afterwards, and a changed initial count would replace the pool, so it is ignored.
            initial_node_count=SYSTEM_INITIAL_NODES_PER_ZONE,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=1, total_max_node_count=3, location_policy="BALANCED"
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=_node_config(SYSTEM_MACHINE_TYPE, False, account, None, [names.system_node_tag]),
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[grant], ignore_changes=["initialNodeCount"])
            ),
        )
        ready.append(system_pool)
        if not network.shared:
            keda_firewall = gcp.compute.Firewall(
                names.keda_firewall,
                name=names.keda_firewall,
                project=placement.project,
                network=network.name,
                direction="INGRESS",
                source_ranges=[MASTER_CIDR],
                target_tags=[names.system_node_tag],
                allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=list(KEDA_CONTROL_PLANE_PORTS))],
                description="GKE control plane to KEDA's metrics server and admission webhooks",
                opts=after_compute,
            )
            ready.append(keda_firewall)
        cluster_name: pulumi.Output[str] = created.name
        dns_endpoint = created.control_plane_endpoints_config.apply(
            lambda endpoints: endpoints.dns_endpoint_config.endpoint  # type: ignore[union-attr]
        )
        config_text = kubeconfig(
            created.name, dns_endpoint, None, credentials=settings.kubernetes_credentials
        )
    else:
        where = pulumi.Output.from_input(existing).apply(lambda e: cluster_reference(e, placement))
        found = gcp.container.get_cluster_output(
            name=where.apply(lambda w: w["name"]),
            location=where.apply(lambda w: w["location"]),
            project=where.apply(lambda w: w["project"]),
            opts=pulumi.InvokeOptions(parent=parent),
        )
        cluster_name = found.name
        config_text = kubeconfig(
            found.name,
            found.endpoint,
            found.master_auths.apply(lambda auths: auths[0].cluster_ca_certificate),
            credentials=settings.kubernetes_credentials,
        )

    return ControlPlane(name=cluster_name, kubeconfig=config_text, created=created, ready=ready, nodes=nodes)


def build_agent_pool(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    *,
    control_plane: ControlPlane,
    nodes: NodeAccount,
    image: pulumi.Input[str],
) -> gcp.container.NodePool:
    """The fleet's own node pool on `control_plane`'s cluster, its nodes running as `nodes`: sized
    for its agents, Spot or not, and tainted so only its agents run there."""
    names = Names(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    settings = config.settings_for(GcpSettings)
    account, grant = nodes.account, nodes.grant
    pull = image_pull_grant(image, names, account, opts, placement)
    machine_type = settings.machine_type
    # Room for a rollout's surge pods at max_agents (sizing.py), or the rollout stalls at full size.
    low, high = agent_pool_bounds(config.scaling.min_agents, config.scaling.max_agents, machine_type)
    agent_pool = gcp.container.NodePool(
        f"{names.fleet}-agent-pool",
        name=names.agent_pool,
        project=placement.project,
        cluster=control_plane.name,
        location=placement.region,
        autoscaling=gcp.container.NodePoolAutoscalingArgs(
            total_min_node_count=low, total_max_node_count=high, location_policy="ANY"
        ),
        management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
        node_config=_node_config(machine_type, config.compute.spot, account, config.name),
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[grant, *([pull] if pull is not None else [])])
        ),
    )
    return agent_pool


def build_cluster(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    *,
    apis: Apis,
    network: Network,
    image: pulumi.Input[str],
    existing: pulumi.Input[str] | None,
) -> Cluster:
    """One fleet's cluster of its own (or the existing one) and its agent pool, whose nodes run as
    the same account as the system pool's."""
    control_plane = build_control_plane(
        parent, config, placement, apis=apis, network=network, existing=existing
    )
    agent_pool = build_agent_pool(
        parent, config, placement, control_plane=control_plane, nodes=control_plane.nodes, image=image
    )
    return fleet_cluster(control_plane, agent_pool)


def fleet_cluster(control_plane: ControlPlane, agent_pool: gcp.container.NodePool) -> Cluster:
    """What one fleet runs on: a control plane (its own or shared) and its agent pool."""
    return Cluster(
        name=control_plane.name,
        kubeconfig=control_plane.kubeconfig,
        agent_pool=agent_pool,
        created=control_plane.created,
        ready=[*control_plane.ready, agent_pool],
    )
