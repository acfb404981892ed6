"""A sample-agent handler that holds every task until a gate file exists: tests decide, by observed
state rather than by the clock, when the fleet's work ends (AGENTFLEET handler for local agents)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from agentfleet.local import sample_agent

GATE_ENV = "TEST_GATE_FILE"


def handle(message: Any, ctx: Any) -> Any:
    gate = Path(os.environ[GATE_ENV])
    while not gate.exists():
        time.sleep(0.02)
    return sample_agent.handle(message, ctx)
