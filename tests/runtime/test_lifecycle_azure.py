"""The Scheduled Events watcher against a local server speaking Azure IMDS's Scheduled Events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from agentfleet.agent.lifecycle.azure import ScheduledEventsWatcher
from tests.runtime.fakes.metadata import AzurePeer, serve


@pytest.fixture
def peer() -> Iterator[AzurePeer]:
    p = AzurePeer()
    with serve(p):
        yield p


def start(peer: AzurePeer) -> tuple[ScheduledEventsWatcher, threading.Event]:
    fired = threading.Event()
    w = ScheduledEventsWatcher(peer.url, poll_interval=0.05)
    w.start(fired.set)
    return w, fired


@pytest.mark.parametrize("event_type", ["Terminate", "Preempt"])
def test_terminate_or_preempt_for_this_instance_drains_then_approves(
    peer: AzurePeer, event_type: str
) -> None:
    w, fired = start(peer)
    time.sleep(0.2)
    assert not fired.is_set()
    event_id = peer.schedule(event_type, ["moodring_1", peer.instance_name])
    assert fired.wait(5)
    assert (w.event_id, w.event_type, w.instance_name) == (event_id, event_type, peer.instance_name)
    assert peer.approvals == []  # not before the drain is over
    w.on_drained()
    assert peer.approvals == [event_id]
    assert peer.events == []
    w.on_drained()
    assert peer.approvals == [event_id]
    w.stop()


def test_events_for_other_instances_or_other_types_are_ignored(peer: AzurePeer) -> None:
    peer.schedule("Terminate", ["moodring_7"])
    peer.schedule("Reboot", [peer.instance_name])
    peer.schedule("Freeze", [peer.instance_name])
    w, fired = start(peer)
    time.sleep(0.4)
    w.stop()
    assert not fired.is_set()
    w.on_drained()
    assert peer.approvals == []


def test_unreachable_metadata_keeps_polling_without_firing() -> None:
    fired = threading.Event()
    w = ScheduledEventsWatcher("http://127.0.0.1:9", poll_interval=0.05, timeout=0.5)
    w.start(fired.set)
    time.sleep(0.3)
    w.stop()
    assert not fired.is_set()


def test_stop_returns_promptly() -> None:
    p = AzurePeer()
    with serve(p):
        w, _ = start(p)
        began = time.monotonic()
        w.stop()
        assert time.monotonic() - began < 2


def test_importing_the_module_loads_no_cloud_sdk() -> None:
    """The SDK is imported when the backend is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import("agentfleet.agent.lifecycle.azure") == []
