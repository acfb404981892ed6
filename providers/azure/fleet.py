"""`build()`: one `FleetConfig` -> the Azure fleet (VM Scale Set + Service Bus + Storage).

Everything is created in one resource group named after the fleet, parented to the
`ScalableAgentFleet` component. This is the only module `providers.cloud_builder("azure")`
imports; it pulls in `pulumi_azure_native` and nothing from the other clouds.
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
from agentfleet.providers.azure.identity import (
    SERVICE_BUS_DATA_RECEIVER,
    SERVICE_BUS_DATA_SENDER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_TABLE_DATA_CONTRIBUTOR,
    build_identity,
    grant,
    grant_cache,
)
from agentfleet.providers.azure.monitoring import build_observability
from agentfleet.providers.azure.network import build_network
from agentfleet.providers.azure.queue import build_queue
from agentfleet.providers.azure.scaling import build_autoscale
from agentfleet.providers.azure.state import build_state
from agentfleet.providers.base import FleetResources
from agentfleet.providers.cloudinit import agent_cloud_config

LIFECYCLE = "azure-scheduled-events"
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
            AZURE_CLIENT_ID: resolved["client_id"],
        }
    )
    for key, var in (("state", contract.STATE), ("bucket", contract.BUCKET), ("cache", contract.CACHE)):
        if resolved.get(key):
            env[var] = resolved[key]
    return env


def build(parent: pulumi.ComponentResource, config: FleetConfig, policy: ScalingPolicy) -> FleetResources:
    location = location_setting()
    opts = pulumi.ResourceOptions(parent=parent)
    name = config.name
    group = resources.ResourceGroup(f"{name}-rg", location=location, opts=opts)
    rg = group.name

    net = build_network(parent, config, rg, location)
    bus = build_queue(parent, config, rg, location)
    state = build_state(parent, config, rg, group.id, location)
    identity = build_identity(parent, config, rg, location)

    grants: dict[str, pulumi.Resource] = {
        "role_queue_receiver": grant(
            parent, f"{name}-queue-receiver", identity, SERVICE_BUS_DATA_RECEIVER, bus.queue.id
        ),
        # A retry with backoff re-enqueues a scheduled copy of the message (agent/backends/servicebus.py).
        "role_queue_sender": grant(
            parent, f"{name}-queue-sender", identity, SERVICE_BUS_DATA_SENDER, bus.queue.id
        ),
    }
    if state.table is not None:
        grants["role_table"] = grant(
            parent, f"{name}-table-data", identity, STORAGE_TABLE_DATA_CONTRIBUTOR, state.table.id
        )
    if state.container is not None:
        grants["role_blob"] = grant(
            parent, f"{name}-blob-data", identity, STORAGE_BLOB_DATA_CONTRIBUTOR, state.container.id
        )
    if state.cache is not None:
        grants["cache_access"] = grant_cache(parent, f"{name}-cache-access", identity, state.cache, rg)

    resolved: dict[str, pulumi.Input[str] | None] = {
        "queue": bus.queue.name,
        "namespace": bus.fqdn,
        "client_id": identity.client_id,
        "state": state.table_url,
        "bucket": state.container_url,
        "cache": state.cache_url,
    }
    inputs = {k: v for k, v in resolved.items() if v is not None}
    cloud_config = pulumi.Output.all(**inputs).apply(
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
        policy,
        resource_group=rg,
        location=location,
        subnet_id=net.subnet_id,
        nsg=net.nsg,
        identity=identity,
        cloud_config=cloud_config,
        depends_on=list(grants.values()),
    )
    build_autoscale(
        parent,
        config,
        policy,
        resource_group=rg,
        location=location,
        scale_set=scale_set,
        namespace=bus.namespace,
        queue=bus.queue,
    )
    build_observability(
        parent, config, policy, resource_group=rg, location=location, namespace=bus.namespace, queue=bus.queue
    )

    return FleetResources(
        queue=bus.queue.name,
        dead_letter_queue=bus.queue.name.apply(lambda q: f"{q}/$DeadLetterQueue"),
        state_table=state.table_url,
        bucket=state.container_url,
        agent_group=scale_set.name,
        send_work={"servicebus_namespace": bus.fqdn, "queue_name": bus.queue.name, "resource_group": rg},
    )
