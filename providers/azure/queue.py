"""The work queue: a Service Bus namespace (Standard, TLS 1.2, Entra ID only) and one queue.

Service Bus dead-letters natively (the queue's `$DeadLetterQueue` sub-queue), so there is no
second queue: after `max_delivery_count` deliveries, or when a message expires, it moves there.
The peek-lock is the visibility timeout clamped to Service Bus's 5-minute maximum; the runtime
renews the lock for longer work (AGENTFLEET_VISIBILITY_TIMEOUT carries the configured value).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import servicebus

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, Site
from agentfleet.providers.azure.settings import (
    SERVICE_BUS_MAX_LOCK_SECONDS,
    iso_duration,
    lock_duration_seconds,
)


def lock_clamp_message(config: FleetConfig) -> str | None:
    """Why the lock is shorter than the visibility timeout, or None when it is not clamped."""
    visibility = config.queue.visibility_timeout_seconds
    if visibility <= SERVICE_BUS_MAX_LOCK_SECONDS:
        return None
    return (
        f"agentfleet: fleet.queue.visibility_timeout_seconds={visibility} is above Service Bus's "
        f"{SERVICE_BUS_MAX_LOCK_SECONDS} s lock maximum: the queue's lock_duration is "
        f"{iso_duration(SERVICE_BUS_MAX_LOCK_SECONDS)} and the agent renews the lock while it works, "
        f"up to {visibility} s"
    )


@dataclass
class Queue:
    namespace: servicebus.Namespace
    queue: servicebus.Queue

    @property
    def fqdn(self) -> pulumi.Output[str]:
        """`NAME.servicebus.windows.net`, what the runtime's client connects to."""
        return self.namespace.name.apply(lambda n: f"{n}.servicebus.windows.net")


def build_queue(parent: pulumi.Resource, config: FleetConfig, site: Site) -> Queue:
    opts = pulumi.ResourceOptions(parent=parent)
    names = FleetNames(config.name)
    namespace = servicebus.Namespace(
        names.namespace,
        resource_group_name=site.resource_group,
        location=site.location,
        sku=servicebus.SBSkuArgs(name=servicebus.SkuName.STANDARD, tier=servicebus.SkuTier.STANDARD),
        minimum_tls_version="1.2",
        # No SAS keys: only Entra ID identities with a data role can send or receive.
        disable_local_auth=True,
        opts=opts,
    )
    note = lock_clamp_message(config)
    if note is not None:
        pulumi.log.info(note)
    queue = servicebus.Queue(
        names.queue_resource,
        queue_name=names.queue,
        resource_group_name=site.resource_group,
        namespace_name=namespace.name,
        lock_duration=iso_duration(lock_duration_seconds(config)),
        max_delivery_count=config.queue.max_receive_count,
        dead_lettering_on_message_expiration=True,
        default_message_time_to_live=iso_duration(config.queue.retention_seconds),
        enable_batched_operations=True,
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )
    return Queue(namespace=namespace, queue=queue)
