"""The fleet's queue, state store and bucket as the *supervisor's side* sees them.

Opened through the runtime's own factories and `Settings.from_env`, with the same variables the
agents get, so `local send`, `local status`, the autoscaler and the report read exactly the
files the agents use — no second copy of the SQLite schema lives here.
"""

from __future__ import annotations

from agentfleet.agent import contract
from agentfleet.agent.backends import open_backend
from agentfleet.agent.backends.sqlite import SqliteBackend
from agentfleet.agent.bucket import Bucket, open_bucket
from agentfleet.agent.settings import Settings
from agentfleet.agent.state import StateStore, open_state
from agentfleet.components.schema import FleetConfig
from agentfleet.local.stack import LocalPaths


def local_settings(config: FleetConfig, paths: LocalPaths) -> Settings:
    paths.create()
    env = {
        contract.BACKEND: "sqlite",
        contract.QUEUE: str(paths.queue.resolve()),
        contract.STATE: str(paths.state.resolve()),
        contract.BUCKET: str(paths.bucket.resolve()),
        contract.VISIBILITY_TIMEOUT: str(config.queue.visibility_timeout_seconds),
        contract.MAX_RECEIVE_COUNT: str(config.queue.max_receive_count),
    }
    return Settings.from_env(env)


def open_queue(config: FleetConfig, paths: LocalPaths) -> SqliteBackend:
    """The SQLite queue (its `send_many` and `dead_letters` are used by send, status and the demo)."""
    backend = open_backend(local_settings(config, paths))
    if not isinstance(backend, SqliteBackend):  # the settings above always say sqlite
        raise RuntimeError(f"expected the sqlite backend for {paths.queue}, got {backend.name}")
    return backend


def open_local_state(config: FleetConfig, paths: LocalPaths) -> StateStore:
    store = open_state(local_settings(config, paths))
    if store is None:  # cannot happen: AGENTFLEET_STATE is always set above
        raise RuntimeError(f"no state store at {paths.state}")
    return store


def open_local_bucket(config: FleetConfig, paths: LocalPaths) -> Bucket:
    bucket = open_bucket(local_settings(config, paths))
    if bucket is None:
        raise RuntimeError(f"no bucket at {paths.bucket}")
    return bucket
