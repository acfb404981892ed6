"""`open_state(settings)`: the fleet's state store for the configured backend, imported lazily.

The store follows the queue backend's cloud: sqs -> DynamoDB, servicebus -> Azure Table,
pubsub -> Firestore, sqlite -> SQLite. Each module exposes `from_settings(settings) -> StateStore`,
so an AWS agent never imports an Azure or Google SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agentfleet.agent.state.base import (
    MAX_VALUE_BYTES,
    ConflictError,
    InProgressElsewhere,
    Item,
    Once,
    StateError,
    StateRejected,
    StateStore,
    ValueTooLarge,
)

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

#: Queue backend name -> state store module under agent.state.
STORE_FOR_BACKEND = {"sqs": "dynamodb", "servicebus": "azuretable", "pubsub": "firestore", "sqlite": "sqlite"}

__all__ = [
    "MAX_VALUE_BYTES",
    "ConflictError",
    "InProgressElsewhere",
    "Item",
    "Once",
    "StateError",
    "StateRejected",
    "StateStore",
    "ValueTooLarge",
    "open_state",
]


def open_state(settings: Settings) -> StateStore | None:
    """The state store named by AGENTFLEET_STATE, or None when the fleet has none."""
    if not settings.state:
        return None
    module_name = STORE_FOR_BACKEND[settings.backend]
    module = importlib.import_module(f"agentfleet.agent.state.{module_name}")
    store: StateStore = module.from_settings(settings)
    return store
