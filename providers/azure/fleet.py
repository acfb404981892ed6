"""The Azure fleet: Service Bus in, a VM Scale Set of agents that follows the backlog, state in
Azure Storage (and optionally Azure Managed Redis).

`build` makes one resource group named after the fleet and wires the modules of this package
into it, in dependency order; each module's docstring says why its resources look as they do:

    network.py      VNet + subnet + NAT gateway, or the user's subnet; the agents' NSG
    queue.py        Service Bus namespace + queue (native dead-lettering, the lock clamp)
    state.py        storage account, table, blob container, optional Managed Redis
    identity.py     the agents' managed identity and its grants on exactly those resources
    compute.py      the scale set (health, repairs, terminate notification, rollouts)
    release.py      the agent's release (image, environment) in userData, applied on every VM
    scaling.py      the autoscale setting: rules on this queue's backlog per agent
    monitoring.py   Log Analytics workspace, the namespace's diagnostics, metric alerts

Every builder has the same shape, `build_<part>(parent, config, site, *, inputs)`: the
`ScalableAgentFleet` component, the validated `FleetConfig`, the `Site` (resource group and
region, names.py), then keyword-only the resources it depends on (and the `ScalingPolicy` where
numbers come from it), returning what later builders need. Every name comes from
`names.FleetNames`. Nothing here imports another cloud's SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi_azure_native import resources

from agentfleet.agent import contract
from agentfleet.components.environment import agent_environment
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.compute import build_scale_set
from agentfleet.providers.azure.identity import build_grants, build_identity, build_scale_in_protection
from agentfleet.providers.azure.monitoring import build_monitoring
from agentfleet.providers.azure.names import FleetNames, Site
from agentfleet.providers.azure.network import build_network
from agentfleet.providers.azure.queue import build_queue
from agentfleet.providers.azure.scaling import build_autoscale
from agentfleet.providers.azure.state import build_state
from agentfleet.providers.base import FleetInputs, FleetResources
from agentfleet.providers.cloudinit import agent_cloud_config

LIFECYCLE = "azure-scheduled-events"
#: The agent marks its own scale-set VM protectFromScaleIn while it holds work (identity.py grants it).
PROTECTION = "azure-vmss"
BACKEND = "servicebus"
#: azure-identity's own variable: which user-assigned managed identity DefaultAzureCredential uses.
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"


def location_setting() -> str:
    """`azure-native:location`: every resource of the fleet lives there. Its presence is checked
    with the fleet config, before anything is registered (`REQUIRED_SETTINGS` in settings.py)."""
    return pulumi.Config("azure-native").require("location")


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
    for key, var in (("state", contract.STATE), ("bucket", contract.BUCKET), ("cache", contract.CACHE)):
        if resolved.get(key):
            env[var] = resolved[key]
    return env


def build_shared(parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> Any:
    raise NotImplementedError("several fleets sharing one network are not built on Azure yet")


def build(
    parent: pulumi.ComponentResource,
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    shared: Any | None,
    inputs: FleetInputs,
) -> FleetResources:
    if shared is not None or inputs != FleetInputs():
        raise NotImplementedError("a shared network and pulumi.Input values are not taken on Azure yet")
    location = location_setting()
    group = resources.ResourceGroup(
        FleetNames(config.name).resource_group, location=location, opts=pulumi.ResourceOptions(parent=parent)
    )
    site = Site(resource_group=group.name, resource_group_id=group.id, location=location)

    net = build_network(parent, config, site)
    bus = build_queue(parent, config, site)
    state = build_state(parent, config, site)
    identity = build_identity(parent, config, site)
    grants = build_grants(parent, config, site, identity=identity, queue=bus, state=state)

    resolved: dict[str, pulumi.Input[str] | None] = {
        "queue": bus.queue.name,
        "namespace": bus.fqdn,
        "client_id": identity.client_id,
        "state": state.table_url,
        "bucket": state.container_url,
        "cache": state.cache_url,
    }
    known = {k: v for k, v in resolved.items() if v is not None}
    release = pulumi.Output.all(**known).apply(
        lambda values: agent_cloud_config(
            image=config.agent.image,
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
        depends_on=grants,
    )
    build_scale_in_protection(parent, config, site, identity=identity, scale_set=scale_set)
    build_autoscale(parent, config, site, policy=policy, scale_set=scale_set, queue=bus)
    build_monitoring(parent, config, site, policy=policy, queue=bus)

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
