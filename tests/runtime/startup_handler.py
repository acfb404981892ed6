"""A handler module that takes as long to import as the test wants: it writes STARTUP_TEST_MARKER
when its import begins and finishes only once STARTUP_TEST_RELEASE exists. A test sends SIGTERM in
between, while the agent is still starting (issue 15, finding 10)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from agentfleet.agent.backends.base import Message
from agentfleet.agent.context import Context

Path(os.environ["STARTUP_TEST_MARKER"]).write_text("importing")
_deadline = time.monotonic() + 60
while not Path(os.environ["STARTUP_TEST_RELEASE"]).exists() and time.monotonic() < _deadline:
    time.sleep(0.01)


def handle(message: Message, ctx: Context) -> None:
    raise AssertionError("an agent stopped during start-up must not receive")
