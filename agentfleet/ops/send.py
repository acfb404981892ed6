"""`agentfleet send`: JSON lines to the work queue, batched (the local fleet's `send --file` too)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from agentfleet.agent.backends.admin import QueueAdmin


class JsonLinesError(ValueError):
    """A line that is not one JSON value; the message names the source and line."""


def parse_json_lines(lines: Iterable[str], source: str) -> list[bytes]:
    """Each non-blank line one JSON value, re-encoded compactly; the error names source and line."""
    bodies: list[bytes] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JsonLinesError(
                f"agentfleet: {source}:{number} is not valid JSON ({exc.msg}); one JSON value per line"
            ) from exc
        bodies.append(json.dumps(value, separators=(",", ":")).encode("utf-8"))
    if not bodies:
        raise JsonLinesError(f"agentfleet: {source} has no messages (one JSON value per line)")
    return bodies


def send_batched(
    admin: QueueAdmin, bodies: Sequence[bytes], batch: int, progress: Callable[[int], None] | None = None
) -> int:
    """Send in batches of `batch` (the broker may split further); returns how many were confirmed."""
    sent = 0
    for start in range(0, len(bodies), batch):
        sent += admin.send_batch(bodies[start : start + batch])
        if progress is not None:
            progress(sent)
    return sent
