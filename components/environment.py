"""The cloud-neutral part of the agent's environment, from the fleet config.

Every target starts the agent container with these variables plus its own (queue URL, state
table, ...); the names are the runtime's contract (agent/contract.py).
"""

from __future__ import annotations

from agentfleet.agent.contract import common_environment
from agentfleet.components.schema import FleetConfig


def agent_environment(config: FleetConfig) -> dict[str, str]:
    """The cloud-neutral variables every provider gives the agent container (agent/contract.py)."""
    a, q, s = config.agent, config.queue, config.scaling
    env = dict(a.env)
    env.update(
        common_environment(
            handler=a.handler,
            concurrency=a.concurrency,
            drain_timeout_seconds=a.drain_timeout_seconds,
            visibility_timeout_seconds=q.visibility_timeout_seconds,
            port=a.port,
            warmup_seconds=s.warmup_seconds,
            max_receive_count=q.max_receive_count,
        )
    )
    return env
