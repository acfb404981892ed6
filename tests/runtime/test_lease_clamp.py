"""The lease keeper renews on the lease the broker grants, not the configured visibility.

Service Bus caps a peek-lock at 5 minutes and Pub/Sub an ack deadline at 10; a fleet configured
for 15 minutes of visibility must renew within the capped lease, or the lock is gone first.
"""

from __future__ import annotations

from agentfleet.agent.backends.base import Message, QueueBackend
from agentfleet.agent.middleware import LeaseKeeper, default_layers


class _CappedBroker(QueueBackend):
    name = "capped"

    def __init__(self, cap: int) -> None:
        self.visibility_timeout = cap

    def receive(self, max_messages: int, wait_seconds: float) -> list[Message]:
        return []

    def ack(self, message: Message) -> None: ...

    def extend_lease(self, message: Message, seconds: int) -> None: ...

    def release(self, message: Message, delay_seconds: int = 0) -> None: ...

    def dead_letter(self, message: Message, reason: str) -> None: ...

    def send(self, body: bytes, attributes: dict[str, str] | None = None) -> str:
        return "1"


def _keeper(configured: int, cap: int) -> LeaseKeeper:
    layers, _ = default_layers(_CappedBroker(cap), visibility_timeout=configured, max_receive_count=5)
    (keeper,) = [layer for layer in layers if isinstance(layer, LeaseKeeper)]
    return keeper


def test_renewal_follows_the_brokers_capped_lock_when_visibility_is_longer() -> None:
    keeper = _keeper(configured=900, cap=300)  # Azure: 15 min configured, lock capped at 5 min
    assert keeper.visibility_timeout == 300
    assert keeper.renew_every == 100


def test_renewal_follows_the_configured_visibility_when_the_broker_grants_it() -> None:
    keeper = _keeper(configured=120, cap=600)
    assert keeper.visibility_timeout == 120
    assert keeper.renew_every == 40
