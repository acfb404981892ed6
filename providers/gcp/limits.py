"""Google Cloud's own limits on a fleet config. Imports no SDK: runs before anything is registered.

Pub/Sub: ack deadline 10-600 s, dead-letter max delivery attempts 5-100, message retention
10 minutes to 7 days on a subscription.
"""

from __future__ import annotations

from components.config import ConfigProblem, FleetConfig

ACK_DEADLINE_MIN_SECONDS = 10
ACK_DEADLINE_MAX_SECONDS = 600
DEAD_LETTER_MIN_ATTEMPTS = 5
DEAD_LETTER_MAX_ATTEMPTS = 100
RETENTION_MIN_SECONDS = 600
RETENTION_MAX_SECONDS = 604_800


def validate(config: FleetConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    q = config.queue
    if not ACK_DEADLINE_MIN_SECONDS <= q.visibility_timeout_seconds <= ACK_DEADLINE_MAX_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.queue.visibility_timeout_seconds",
                q.visibility_timeout_seconds,
                f"must be between {ACK_DEADLINE_MIN_SECONDS} and {ACK_DEADLINE_MAX_SECONDS} on GCP "
                "(Pub/Sub ack deadline; the runtime extends the lease for longer work)",
            )
        )
    if not DEAD_LETTER_MIN_ATTEMPTS <= q.max_receive_count <= DEAD_LETTER_MAX_ATTEMPTS:
        problems.append(
            ConfigProblem(
                "fleet.queue.max_receive_count",
                q.max_receive_count,
                f"must be between {DEAD_LETTER_MIN_ATTEMPTS} and {DEAD_LETTER_MAX_ATTEMPTS} on GCP "
                "(Pub/Sub dead-letter policy max delivery attempts)",
            )
        )
    if not RETENTION_MIN_SECONDS <= q.retention_seconds <= RETENTION_MAX_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.queue.retention_seconds",
                q.retention_seconds,
                f"must be between {RETENTION_MIN_SECONDS} and {RETENTION_MAX_SECONDS} on GCP "
                "(Pub/Sub subscription retention: 10 minutes to 7 days)",
            )
        )
    return problems
