"""The work queue on Pub/Sub: topic, pull subscription, dead-letter topic kept by its own subscription.

Numbers come from the fleet config: the ack deadline is `visibility_timeout_seconds` (10-600 s,
checked in settings.py), retention is `retention_seconds`, the dead-letter policy's max delivery
attempts is `max_receive_count` (5-100), and the retry backoff grows from 10 s to one lease.

Dead-lettering only works when the project's Pub/Sub service agent
(`service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com`) may publish to the dead-letter
topic and subscribe to the source subscription; without those two grants Pub/Sub never forwards a
message. The project number is read with the `organizations.getProject` invoke.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.gcp.apis import Apis
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.settings import (
    RETENTION_MAX_SECONDS,
    RETRY_MAX_BACKOFF_SECONDS,
    RETRY_MIN_BACKOFF_SECONDS,
    Placement,
)


@dataclass
class Queue:
    topic: gcp.pubsub.Topic
    subscription: gcp.pubsub.Subscription
    dead_letter_topic: gcp.pubsub.Topic
    dead_letter_subscription: gcp.pubsub.Subscription
    service_agent: pulumi.Output[str]
    grants: list[pulumi.Resource]


def pubsub_service_agent(project_number: pulumi.Input[str]) -> pulumi.Output[str]:
    """The IAM member of the project's Pub/Sub service agent, which forwards dead letters."""
    return pulumi.Output.concat(
        "serviceAccount:service-", project_number, "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )


def retry_backoff_seconds(config: FleetConfig) -> tuple[int, int]:
    """Pub/Sub redelivery backoff: start at 10 s, grow up to the ack deadline (at most 600 s).

    A message nacked (or whose lease lapsed) comes back no later than one lease later, so a
    failing message is retried at the pace the fleet already tolerates for a stuck one.
    """
    upper = min(
        RETRY_MAX_BACKOFF_SECONDS, max(RETRY_MIN_BACKOFF_SECONDS, config.queue.visibility_timeout_seconds)
    )
    return RETRY_MIN_BACKOFF_SECONDS, upper


def build_queue(parent: pulumi.Resource, config: FleetConfig, placement: Placement, *, apis: Apis) -> Queue:
    q = config.queue
    names = Names(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[apis["pubsub"]]))
    labels = {"agentfleet-fleet": config.name}

    topic = gcp.pubsub.Topic(
        names.topic, name=names.topic, project=placement.project, labels=labels, opts=child
    )
    dead_letter_topic = gcp.pubsub.Topic(
        names.dead_letter_topic,
        name=names.dead_letter_topic,
        project=placement.project,
        labels=labels,
        opts=child,
    )
    # Without a subscription, messages published to a topic are dropped: this one keeps the dead
    # letters for as long as Pub/Sub allows, and never expires for inactivity.
    dead_letter_subscription = gcp.pubsub.Subscription(
        names.dead_letter_subscription,
        name=names.dead_letter_subscription,
        project=placement.project,
        topic=dead_letter_topic.id,
        ack_deadline_seconds=q.visibility_timeout_seconds,
        message_retention_duration=f"{RETENTION_MAX_SECONDS}s",
        expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        labels=labels,
        opts=child,
    )
    low, high = retry_backoff_seconds(config)
    subscription = gcp.pubsub.Subscription(
        names.subscription,
        name=names.subscription,
        project=placement.project,
        topic=topic.id,
        ack_deadline_seconds=q.visibility_timeout_seconds,
        message_retention_duration=f"{q.retention_seconds}s",
        retry_policy=gcp.pubsub.SubscriptionRetryPolicyArgs(
            minimum_backoff=f"{low}s", maximum_backoff=f"{high}s"
        ),
        dead_letter_policy=gcp.pubsub.SubscriptionDeadLetterPolicyArgs(
            dead_letter_topic=dead_letter_topic.id, max_delivery_attempts=q.max_receive_count
        ),
        expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        labels=labels,
        opts=child,
    )

    project = gcp.organizations.get_project_output(
        project_id=placement.project, opts=pulumi.InvokeOptions(parent=parent)
    )
    agent = pubsub_service_agent(project.number)
    forward = gcp.pubsub.TopicIAMMember(
        f"{names.dead_letter_topic}-forwarding",
        project=placement.project,
        topic=dead_letter_topic.name,
        role="roles/pubsub.publisher",
        member=agent,
        opts=opts,
    )
    take = gcp.pubsub.SubscriptionIAMMember(
        f"{names.subscription}-dead-lettering",
        project=placement.project,
        subscription=subscription.name,
        role="roles/pubsub.subscriber",
        member=agent,
        opts=opts,
    )
    return Queue(
        topic=topic,
        subscription=subscription,
        dead_letter_topic=dead_letter_topic,
        dead_letter_subscription=dead_letter_subscription,
        service_agent=agent,
        grants=[forward, take],
    )
