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
from agentfleet.providers.azure import settings


@dataclass
class Queue:
    namespace: servicebus.Namespace
    queue: servicebus.Queue

    @property
    def fqdn(self) -> pulumi.Output[str]:
        """`NAME.servicebus.windows.net`, what the runtime's client connects to."""
        return self.namespace.name.apply(lambda n: f"{n}.servicebus.windows.net")


def build_queue(
    parent: pulumi.Resource,
    config: FleetConfig,
    resource_group: pulumi.Input[str],
    location: pulumi.Input[str],
) -> Queue:
    opts = pulumi.ResourceOptions(parent=parent)
    name = config.name
    namespace = servicebus.Namespace(
        # Namespace names ending in "-sb" are reserved by Azure; "-bus" plus Pulumi's random
        # suffix keeps the global name unique.
        f"{name}-bus",
        resource_group_name=resource_group,
        location=location,
        sku=servicebus.SBSkuArgs(name=servicebus.SkuName.STANDARD, tier=servicebus.SkuTier.STANDARD),
        minimum_tls_version="1.2",
        # No SAS keys: only Entra ID identities with a data role can send or receive.
        disable_local_auth=True,
        opts=opts,
    )
    note = settings.lock_clamp_message(config)
    if note is not None:
        pulumi.log.info(note)
    queue = servicebus.Queue(
        f"{name}-queue",
        queue_name=name,
        resource_group_name=resource_group,
        namespace_name=namespace.name,
        lock_duration=settings.iso_duration(settings.lock_duration_seconds(config)),
        max_delivery_count=config.queue.max_receive_count,
        dead_lettering_on_message_expiration=True,
        default_message_time_to_live=settings.iso_duration(config.queue.retention_seconds),
        enable_batched_operations=True,
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )
    return Queue(namespace=namespace, queue=queue)
