"""Azure's own limits on a fleet config. Imports no SDK: runs before anything is registered.

Service Bus: lock duration at most 5 minutes (longer visibility is served by the runtime renewing
the lock, so that is not an error); max delivery count >= 1; message TTL at least 1 s.
VMSS terminate notification: not-before timeout 5-15 minutes, so the drain must fit in 15.
"""

from __future__ import annotations

from components.config import ConfigProblem, FleetConfig

SERVICE_BUS_MAX_LOCK_SECONDS = 300
SERVICE_BUS_MAX_DELIVERY_COUNT = 2_000
TERMINATE_NOTIFICATION_MIN_SECONDS = 300
TERMINATE_NOTIFICATION_MAX_SECONDS = 900


def lock_duration_seconds(config: FleetConfig) -> int:
    """The queue's peek-lock: the visibility timeout, clamped to Service Bus's 5-minute maximum."""
    return min(config.queue.visibility_timeout_seconds, SERVICE_BUS_MAX_LOCK_SECONDS)


def validate(config: FleetConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    if config.queue.max_receive_count > SERVICE_BUS_MAX_DELIVERY_COUNT:
        problems.append(
            ConfigProblem(
                "fleet.queue.max_receive_count",
                config.queue.max_receive_count,
                f"must be between 1 and {SERVICE_BUS_MAX_DELIVERY_COUNT} (Service Bus max delivery count)",
            )
        )
    if config.agent.drain_timeout_seconds > TERMINATE_NOTIFICATION_MAX_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.agent.drain_timeout_seconds",
                config.agent.drain_timeout_seconds,
                f"must be <= {TERMINATE_NOTIFICATION_MAX_SECONDS} on Azure: a scale set's terminate "
                "notification delays deletion by 5 to 15 minutes at most",
            )
        )
    return problems
