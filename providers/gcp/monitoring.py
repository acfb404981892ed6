"""Cloud Monitoring alert policies: work waiting too long, and work that was dead-lettered.

No notification channel is attached: the policies open incidents in Cloud Monitoring, and an
operator adds their channels (e-mail, PagerDuty, ...) to them, which is a per-team choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.gcp.apis import Apis
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.settings import Placement

OLDEST_AGE_METRIC = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"
UNDELIVERED_METRIC = "pubsub.googleapis.com/subscription/num_undelivered_messages"


@dataclass
class Alerts:
    oldest_message: gcp.monitoring.AlertPolicy
    dead_letters: gcp.monitoring.AlertPolicy


def oldest_message_alert_seconds(config: FleetConfig) -> int:
    """Alert when the oldest unacked message is older than warm-up plus three leases (min 5 min).

    By then a new agent has had time to start and the message has had three chances to be
    worked; older means the fleet is stuck or capped at max_agents.
    """
    return max(300, config.scaling.warmup_seconds + 3 * config.queue.visibility_timeout_seconds)


def subscription_filter(metric: str, subscription_id: str) -> str:
    return (
        f'resource.type = "pubsub_subscription" AND resource.label.subscription_id = "{subscription_id}" '
        f'AND metric.type = "{metric}"'
    )


def _threshold(display: str, filter_: str, value: float) -> gcp.monitoring.AlertPolicyConditionArgs:
    return gcp.monitoring.AlertPolicyConditionArgs(
        display_name=display,
        condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
            filter=filter_,
            comparison="COMPARISON_GT",
            threshold_value=value,
            duration="60s",
            aggregations=[
                gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                    alignment_period="60s", per_series_aligner="ALIGN_MAX"
                )
            ],
        ),
    )


def build_alerts(parent: pulumi.Resource, config: FleetConfig, placement: Placement, *, apis: Apis) -> Alerts:
    names = Names(config.name)
    child = pulumi.ResourceOptions(parent=parent, depends_on=[apis["monitoring"]])
    age = oldest_message_alert_seconds(config)
    oldest = gcp.monitoring.AlertPolicy(
        f"{names.fleet}-oldest-message",
        project=placement.project,
        display_name=f"agentfleet {names.fleet}: oldest unacked message older than {age} s",
        combiner="OR",
        conditions=[
            _threshold(
                "oldest unacked message age", subscription_filter(OLDEST_AGE_METRIC, names.subscription), age
            )
        ],
        opts=child,
    )
    dead = gcp.monitoring.AlertPolicy(
        f"{names.fleet}-dead-letters",
        project=placement.project,
        display_name=f"agentfleet {names.fleet}: messages were dead-lettered",
        combiner="OR",
        conditions=[
            _threshold(
                "dead-lettered messages kept",
                subscription_filter(UNDELIVERED_METRIC, names.dead_letter_subscription),
                0,
            )
        ],
        opts=child,
    )
    return Alerts(oldest_message=oldest, dead_letters=dead)
