"""A state write the store can never hold is the message's permanent failure: dead-lettered on its
first delivery with the reason, not retried until the dead-letter queue (issue 15, finding 12)."""

from __future__ import annotations

from pathlib import Path

from agentfleet.agent.backends.base import Message
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.context import Context
from tests.runtime.harness import make_worker, running, settled, wait_until


def test_a_value_over_the_limit_dead_letters_the_message_at_once(tmp_path: Path) -> None:
    queue = SqliteBackend(tmp_path / "queue.db", visibility_timeout=5)
    deliveries: list[int] = []

    def handle(message: Message, ctx: Context) -> None:
        deliveries.append(message.delivery_count)
        ctx.state.put("report", {"text": "x" * 500_000})

    queue.send(b"big report")
    run = make_worker(queue, handle, state_path=tmp_path / "state.db", max_receive_count=5)
    with running(run):
        wait_until(lambda: settled(queue), 20, "the message settled")
    assert deliveries == [1]
    (dead,) = queue.dead_letters()
    assert "'report'" in dead.reason and "over the 400,000" in dead.reason
