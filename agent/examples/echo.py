"""A tiny example handler: `agentfleet agent run --handler agent.examples.echo:handle`.

It reads a JSON message `{"id": "...", "text": "..."}`, and records the upper-cased text in the
state store exactly once per id, however often the message is delivered.
"""

from __future__ import annotations

import json

from agentfleet.agent.backends.base import Message
from agentfleet.agent.context import Context
from agentfleet.agent.handler import PermanentError


def handle(message: Message, ctx: Context) -> None:
    try:
        payload = json.loads(message.body)
        job_id, text = str(payload["id"]), str(payload["text"])
    except (ValueError, KeyError, TypeError) as e:
        raise PermanentError(f"not an echo job: {e}") from e  # retrying cannot fix bad input
    with ctx.once(f"echo:{job_id}") as first:
        if first:
            ctx.state.put(f"echo-result:{job_id}", {"text": text.upper()})
            ctx.logger.info("echoed", job_id=job_id)
