"""Azure termination watcher: Scheduled Events from the Instance Metadata Service.

Protocol (Azure docs, "Azure Metadata Service: Scheduled Events for Linux VMs"):

- `GET /metadata/scheduledevents?api-version=2020-07-01` with header `Metadata: true` returns
  `{"DocumentIncarnation": n, "Events": [{"EventId", "EventType", "ResourceType", "Resources",
  "EventStatus", "NotBefore", ...}]}`. The first call may take a while (it enables the service).
- An event concerns this instance when its `Resources` list holds this VM's name, which IMDS
  gives at `GET /metadata/instance/compute/name?api-version=2021-02-01&format=text`.
- `Terminate` (scale-in, delete; VMSS terminate notification 5-15 min) and `Preempt` (Spot
  eviction, ~30 s) start the drain. Other types (Reboot, Redeploy, Freeze) do not.
- When drained, `POST /metadata/scheduledevents?api-version=2020-07-01` with body
  `{"StartRequests": [{"EventId": "..."}]}` approves the event, so Azure proceeds at once
  instead of waiting for `NotBefore`.

The base URL is a constructor argument so tests run it against a local server.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentfleet.agent.lifecycle.base import TerminationWatcher
from agentfleet.agent.logging import get_logger

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

DEFAULT_METADATA = "http://169.254.169.254"
EVENTS_PATH = "/metadata/scheduledevents?api-version=2020-07-01"
NAME_PATH = "/metadata/instance/compute/name?api-version=2021-02-01&format=text"
TERMINATING_EVENTS = frozenset({"Terminate", "Preempt"})


class ScheduledEventsWatcher(TerminationWatcher):
    """Polls Scheduled Events; drains on Terminate/Preempt for this VM; approves when drained."""

    def __init__(
        self, base_url: str = DEFAULT_METADATA, *, poll_interval: float = 5.0, timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.instance_name = ""
        self.event_id = ""
        self.event_type = ""
        self.terminating = threading.Event()
        self._approved = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = get_logger(component="lifecycle.azure")

    def start(self, on_terminate: Callable[[], None]) -> None:
        self._thread = threading.Thread(
            target=self._watch, args=(on_terminate,), name="agentfleet-sched-events"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.timeout + 1)

    def on_drained(self) -> None:
        """Approve the event we drained for (once), so the platform proceeds now."""
        if not self.event_id or self._approved:
            return
        self._approved = True
        body = json.dumps({"StartRequests": [{"EventId": self.event_id}]}).encode()
        for attempt in range(1, 4):
            try:
                self._request(EVENTS_PATH, method="POST", body=body)
            except (OSError, urllib.error.URLError) as error:  # unapproved, it starts at NotBefore
                self._log.warning("scheduled event approval failed", error=str(error), attempt=attempt)
                time.sleep(min(5.0, 0.2 * 2**attempt))
                continue
            self._log.info("scheduled event approved", event_id=self.event_id, event_type=self.event_type)
            return

    # -- background -------------------------------------------------------------------------

    def _request(self, path: str, method: str = "GET", body: bytes | None = None) -> bytes:
        headers = {"Metadata": "true"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.base_url}{path}", data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return bytes(response.read())

    def _matching_event(self, document: dict[str, Any]) -> dict[str, Any] | None:
        for event in document.get("Events", []):
            if event.get("EventType") in TERMINATING_EVENTS and self.instance_name in event.get(
                "Resources", []
            ):
                return dict(event)
        return None

    def _watch(self, on_terminate: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                if not self.instance_name:
                    self.instance_name = self._request(NAME_PATH).decode().strip()
                event = self._matching_event(json.loads(self._request(EVENTS_PATH)))
            except (OSError, urllib.error.URLError, ValueError) as error:
                self._log.warning("scheduled events unreachable", error=str(error))
                event = None
            if event is not None:
                self.event_id = str(event["EventId"])
                self.event_type = str(event["EventType"])
                self.terminating.set()
                self._log.info(
                    "termination notice",
                    event_id=self.event_id,
                    event_type=self.event_type,
                    not_before=event.get("NotBefore", ""),
                    instance=self.instance_name,
                )
                on_terminate()
                return
            self._stop.wait(self.poll_interval)


def from_settings(settings: Settings) -> ScheduledEventsWatcher:
    return ScheduledEventsWatcher(DEFAULT_METADATA)
