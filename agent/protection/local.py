"""AGENTFLEET_PROTECTION=local: the local supervisor reads `agentfleet_protected` from /metrics.

There is no platform API: the flag is the gauge itself, so there is nothing to spare by waiting
and the idle grace is 0 (an agent is removable the moment its last handler returns).
"""

from __future__ import annotations

from agentfleet.agent.protection.base import ProtectionBackend


class LocalProtection(ProtectionBackend):
    kind = "local"
    idle_grace_seconds = 0.0

    def apply(self, protected: bool) -> None:
        return None
