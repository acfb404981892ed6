"""`open_backend(settings)`: the queue backend named by AGENTFLEET_BACKEND, imported lazily.

sqs, servicebus, pubsub and sqlite each live in `agent/backends/<name>.py` and expose
`from_settings(settings) -> QueueBackend`; only the chosen backend's SDK is ever imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agentfleet.agent.backends.base import BackendError, LeaseLost, Message, QueueBackend, QueueStats

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

__all__ = ["BackendError", "LeaseLost", "Message", "QueueBackend", "QueueStats", "open_backend"]


def open_backend(settings: Settings) -> QueueBackend:
    module = importlib.import_module(f"agentfleet.agent.backends.{settings.backend}")
    backend: QueueBackend = module.from_settings(settings)
    return backend
