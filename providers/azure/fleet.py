"""The Azure fleet: Service Bus in, a VM Scale Set of agents that follows the backlog, state in
Azure Storage (and optionally Azure Managed Redis).

`build` makes one resource group named after the fleet and wires the modules of this package
into it, in dependency order; each module's docstring says why its resources look as they do:

    network.py      VNet + subnet + NAT gateway, or the user's subnet; the agents' NSG (or the
                    shared network's: `build_shared`)
    queue.py        Service Bus namespace + queue (native dead-lettering, the lock clamp)
    state.py        storage account, table, blob container, optional Managed Redis
    identity.py     the agents' managed identity and its grants on exactly those resources
    secrets.py      `agent.secrets`: the fleet's Key Vault, read grants on exactly its secrets
    compute.py      the scale set (health, repairs, terminate notification, rollouts)
    release.py      the agent's release (image, environment) in userData, applied on every VM
    scaling.py      the autoscale setting: rules on this queue's backlog per agent
    monitoring.py   Log Analytics workspace (or the shared one), the namespace's diagnostics,
                    metric alerts

Several fleets of one stack share what `build_shared` makes (`SharedNetwork`): a resource group
named after the `FleetNetwork` with the VNet, subnet, NAT gateway, NSG and Log Analytics
workspace. Everything a fleet's identity acts on stays in the fleet's own resource group.

The location is the stack's `azure-native:location`, or, when the component was given an
explicit azure-native provider, that provider's (`site_location`). No builder makes an invoke:
the subscription comes from resource ids (identity.py), the tenant from the identity.

Every builder has the same shape, `build_<part>(parent, config, site, *, inputs)`: the
`ScalableAgentFleet` component, the validated `FleetConfig`, the `Site` (resource group and
region, names.py), then keyword-only the resources it depends on (and the `ScalingPolicy` where
numbers come from it), returning what later builders need. Every name comes from
`names.FleetNames`. Nothing here imports another cloud's SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import network, operationalinsights, resources

from agentfleet.agent import contract
from agentfleet.components.environment import agent_environment
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import MISSING, ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.compute import build_scale_set
from agentfleet.providers.azure.identity import build_grants, build_identity, build_scale_in_protection
from agentfleet.providers.azure.monitoring import build_monitoring, build_workspace
from agentfleet.providers.azure.names import FleetNames, NetworkNames, Site
from agentfleet.providers.azure.network import Network, agent_subnet, build_network
from agentfleet.providers.azure.queue import build_queue
from agentfleet.providers.azure.scaling import build_autoscale
from agentfleet.providers.azure.secrets import build_secrets
from agentfleet.providers.azure.settings import LOCATION_REQUIRED, AzureSettings
from agentfleet.providers.azure.state import build_state
from agentfleet.providers.base import FleetInputs, FleetResources
from agentfleet.providers.cloudinit import agent_cloud_config

LIFECYCLE = "azure-scheduled-events"
#: The agent marks its own scale-set VM protectFromScaleIn while it holds work (identity.py grants it).
PROTECTION = "azure-vmss"
BACKEND = "servicebus"
#: The type whose provider says where the fleet's resources go (site_location).
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
#: azure-identity's own variable: which user-assigned managed identity DefaultAzureCredential uses.
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"


def site_location(parent: pulumi.Resource) -> str | None:
    """Where the resources of `parent` go: None when `parent` was given an explicit azure-native
    provider, whose location the resource group then takes ("ResourceGroups will consult this
    property for a default location, if one was not supplied explicitly") and everything else
    takes from the group; otherwise the stack's `azure-native:location`, which must then be set."""
    if parent.get_provider(RESOURCE_GROUP) is not None:
        return None
    location = pulumi.Config("azure-native").get("location")
    if not location:
        raise ConfigError([ConfigProblem("azure-native:location", MISSING, LOCATION_REQUIRED)])
    return location


def build_site(parent: pulumi.Resource, name: str) -> tuple[resources.ResourceGroup, Site]:
    """The resource group `name` as a child of `parent`, and the site it makes."""
    location = site_location(parent)
    group = resources.ResourceGroup(name, location=location, opts=pulumi.ResourceOptions(parent=parent))
    site = Site(
        resource_group=group.name,
        resource_group_id=group.id,
        location=location if location is not None else group.location,
    )
    return group, site


def container_environment(config: FleetConfig, resolved: Mapping[str, Any]) -> dict[str, str]:
    """The agent's environment (docs/DESIGN.md contract) from resolved resource values."""
    env = agent_environment(config)
    env.update(
        {
            contract.BACKEND: BACKEND,
            contract.QUEUE: resolved["queue"],
            # Service Bus dead-letters natively into the queue's $DeadLetterQueue.
            contract.DEAD_LETTER_QUEUE: "",
            contract.SERVICEBUS_NAMESPACE: resolved["namespace"],
            contract.PROTECTION: PROTECTION,
            AZURE_CLIENT_ID: resolved["client_id"],
        }
    )
    if resolved.get("secrets"):
        env[contract.SECRETS] = resolved["secrets"]
    for key, var in (("state", contract.STATE), ("bucket", contract.BUCKET), ("cache", contract.CACHE)):
        if resolved.get(key):
            env[var] = resolved[key]
    return env


@dataclass(frozen=True)
class SharedNetwork:
    """What the fleets of one stack share (`build_shared`): a resource group named after the
    `FleetNetwork`, holding the VNet, subnet, NAT gateway, NSG and Log Analytics workspace.
    Each fleet keeps its own resource group with its queue, state, identity, vault, scale set,
    autoscale and alerts; its agents join this subnet."""

    site: Site
    subnet_id: pulumi.Input[str]
    nsg: network.NetworkSecurityGroup
    workspace: operationalinsights.Workspace
    #: `fleet.azure.subnet_id` of the config the network was built from (a fleet may repeat it).
    subnet_setting: str | None


def build_shared(parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> SharedNetwork:
    names = NetworkNames(parent.pulumi_resource_name)
    _, site = build_site(parent, names.resource_group)
    net = build_network(parent, names, site, user_subnet=agent_subnet(config, inputs))
    return SharedNetwork(
        site=site,
        subnet_id=net.subnet_id,
        nsg=net.nsg,
        workspace=build_workspace(parent, names, site),
        subnet_setting=config.settings_for(AzureSettings).subnet_id,
    )


def _check_joins(config: FleetConfig, inputs: FleetInputs, shared: SharedNetwork) -> None:
    """A fleet in a shared network takes its subnet: a subnet of its own would be ignored."""
    setting = config.settings_for(AzureSettings).subnet_id
    if setting not in (None, shared.subnet_setting):
        raise ConfigError(
            [
                ConfigProblem(
                    "fleet.azure.subnet_id",
                    setting,
                    "must be unset (or the first fleet's) when fleets share a network: the agents join "
                    "the shared network's subnet",
                )
            ]
        )
    if inputs.subnet_ids is not None:
        raise ConfigError(
            [
                ConfigProblem(
                    "FleetInputs.subnet_ids",
                    "set",
                    "must be given to the FleetNetwork, not to a fleet that shares it",
                )
            ]
        )


def build(
    parent: pulumi.ComponentResource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    shared: SharedNetwork | None,
    inputs: FleetInputs,
) -> FleetResources:
    names = FleetNames(config.name)
    group, site = build_site(parent, names.resource_group)
    if shared is None:
        net = build_network(parent, names, site, user_subnet=agent_subnet(config, inputs))
        workspace = None
    else:
        _check_joins(config, inputs, shared)
        net = Network(subnet_id=shared.subnet_id, nsg=shared.nsg)
        workspace = shared.workspace
    bus = build_queue(parent, config, site)
    state = build_state(parent, config, site)
    identity = build_identity(parent, config, site)
    grants = build_grants(parent, config, site, identity=identity, queue=bus, state=state)
    secrets = build_secrets(parent, config, site, identity=identity)

    resolved: dict[str, pulumi.Input[str] | None] = {
        "image": inputs.image if inputs.image is not None else config.agent.image,
        "queue": bus.queue.name,
        "namespace": bus.fqdn,
        "client_id": identity.client_id,
        "state": state.table_url,
        "bucket": state.container_url,
        "cache": state.cache_url,
        "secrets": secrets.environment(),
    }
    known = {k: v for k, v in resolved.items() if v is not None}
    release = pulumi.Output.all(**known).apply(
        lambda values: agent_cloud_config(
            image=values["image"],
            env=container_environment(config, values),
            port=config.agent.port,
            drain_timeout_seconds=config.agent.drain_timeout_seconds,
            lifecycle=LIFECYCLE,
            health_grace_seconds=config.scaling.warmup_seconds,
        )
    )
    scale_set = build_scale_set(
        parent,
        config,
        site,
        policy=policy,
        subnet_id=net.subnet_id,
        nsg=net.nsg,
        identity=identity,
        release=release,
        depends_on=[*grants, *secrets.grants],
    )
    build_scale_in_protection(parent, config, site, identity=identity, scale_set=scale_set)
    build_autoscale(parent, config, site, policy=policy, scale_set=scale_set, queue=bus)
    build_monitoring(parent, config, site, policy=policy, queue=bus, workspace=workspace)

    return FleetResources(
        queue=bus.queue.name,
        dead_letter_queue=bus.queue.name.apply(lambda q: f"{q}/$DeadLetterQueue"),
        state_table=state.table_url,
        bucket=state.container_url,
        agent_group=scale_set.name,
        send_work={
            "servicebus_namespace": bus.fqdn,
            "queue_name": bus.queue.name,
            "resource_group": group.name,
        },
    )
