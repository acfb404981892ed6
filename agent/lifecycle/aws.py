"""AWS termination watcher: the Auto Scaling termination lifecycle hook and Spot interruption
notices, both seen through IMDSv2.

Protocol (EC2 Auto Scaling user guide, "retrieve the target lifecycle state through instance
metadata", and the IMDSv2 docs):

1. `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` gives a session token;
   every metadata GET carries it as `X-aws-ec2-metadata-token` (a 401 means: get a new token).
2. Poll `GET /latest/meta-data/autoscaling/target-lifecycle-state` until it reads `Terminated`
   (it reads `InService` before; 404 while the instance is not in a group yet).
3. The instance now sits in `Terminating:Wait`: start the drain, and while it runs call
   `RecordLifecycleActionHeartbeat` every `heartbeat_interval` so the hook's heartbeat timeout
   does not run out (30-7,200 s, configured on the hook).
4. When drained, `CompleteLifecycleAction(LifecycleActionResult=CONTINUE)` lets the group
   terminate the instance now instead of at the timeout.

Spot: `GET /latest/meta-data/spot/instance-action` is 404 until EC2 announces an interruption,
then `{"action": "terminate" | "stop" | "hibernate", "time": ...}`, two minutes before it ("We
recommend that you check for these interruption notices every 5 seconds", EC2 user guide, "Spot
Instance interruption notices"). Each poll reads it too; a notice starts the drain at once, and
the watcher keeps polling the lifecycle state, so a termination hook the group runs afterwards is
still heartbeated and completed (one drain either way).

The metadata endpoint is boto3's own override, `AWS_EC2_METADATA_SERVICE_ENDPOINT`, so tests
point it at a local server that speaks IMDSv2.
"""

from __future__ import annotations

import os
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

DEFAULT_IMDS = "http://169.254.169.254"
TOKEN_TTL_SECONDS = 21_600
TARGET_STATE_PATH = "/latest/meta-data/autoscaling/target-lifecycle-state"
INSTANCE_ID_PATH = "/latest/meta-data/instance-id"
SPOT_ACTION_PATH = "/latest/meta-data/spot/instance-action"


class Imds:
    """A minimal IMDSv2 client: session token on PUT, token header on every GET."""

    def __init__(self, base_url: str = DEFAULT_IMDS, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = ""
        self._token_expires = 0.0

    def _fresh_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        request = urllib.request.Request(
            f"{self.base_url}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            self._token = response.read().decode().strip()
        self._token_expires = time.monotonic() + TOKEN_TTL_SECONDS - 60
        return self._token

    def get(self, path: str) -> str | None:
        """The metadata value, or None where IMDS answers 404 (not available yet)."""
        for attempt in range(2):
            request = urllib.request.Request(
                f"{self.base_url}{path}", headers={"X-aws-ec2-metadata-token": self._fresh_token()}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return str(response.read().decode().strip())
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                if error.code == 401 and attempt == 0:
                    self._token = ""  # expired or revoked: take a new one and ask again
                    continue
                raise
        return None


class AsgLifecycleWatcher(TerminationWatcher):
    """Watches the ASG target lifecycle state; heartbeats while draining; completes the action."""

    def __init__(
        self,
        autoscaling: Any,
        *,
        hook: str,
        group: str,
        imds: Imds | None = None,
        poll_interval: float = 5.0,
        heartbeat_interval: float = 20.0,
        complete_attempts: int = 3,
    ) -> None:
        if not hook or not group:
            raise ValueError(
                "AGENTFLEET_LIFECYCLE=aws-asg needs AGENTFLEET_LIFECYCLE_HOOK and AGENTFLEET_GROUP "
                f"(got hook={hook!r}, group={group!r})"
            )
        self.autoscaling = autoscaling
        self.hook = hook
        self.group = group
        self.imds = imds or Imds()
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.complete_attempts = complete_attempts
        self.instance_id = ""
        #: The Spot interruption notice (its JSON), once EC2 announced one.
        self.spot_notice = ""
        self.terminating = threading.Event()
        self._stop = threading.Event()
        self._drained = threading.Event()
        self._completed = False
        self._threads: list[threading.Thread] = []
        self._log = get_logger(component="lifecycle.aws")

    def start(self, on_terminate: Callable[[], None]) -> None:
        thread = threading.Thread(
            target=self._watch, args=(on_terminate,), name="agentfleet-asg", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._drained.set()  # also ends the heartbeat loop's wait
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def on_drained(self) -> None:
        """Stop heartbeating and complete the lifecycle action with CONTINUE (once)."""
        self._drained.set()
        if not self.terminating.is_set() or self._completed:
            return  # drained for another reason (SIGTERM): no lifecycle action is pending
        self._completed = True
        for attempt in range(1, self.complete_attempts + 1):
            try:
                self.autoscaling.complete_lifecycle_action(
                    LifecycleHookName=self.hook,
                    AutoScalingGroupName=self.group,
                    LifecycleActionResult="CONTINUE",
                    InstanceId=self.instance_id,
                )
            except Exception as error:  # the hook's default result (CONTINUE) ends it at the timeout
                self._log.warning("complete lifecycle action failed", error=str(error), attempt=attempt)
                time.sleep(min(5.0, 0.2 * 2**attempt))
                continue
            self._log.info("lifecycle action completed", instance_id=self.instance_id, hook=self.hook)
            return

    # -- background -------------------------------------------------------------------------

    def _watch(self, on_terminate: Callable[[], None]) -> None:
        draining = False
        while not self._stop.is_set():
            try:
                if not self.instance_id:
                    self.instance_id = self.imds.get(INSTANCE_ID_PATH) or ""
                spot = self.imds.get(SPOT_ACTION_PATH)
                state = self.imds.get(TARGET_STATE_PATH)
            except (OSError, urllib.error.URLError) as error:
                self._log.warning("instance metadata unreachable", error=str(error))
                spot = state = None
            if spot and not draining:
                self.spot_notice = spot
                self._log.info("spot interruption notice", instance_id=self.instance_id, notice=spot)
                draining = True
                on_terminate()
            if state == "Terminated" and self.instance_id:
                self.terminating.set()
                self._log.info("termination notice", instance_id=self.instance_id, state=state)
                heartbeat = threading.Thread(
                    target=self._heartbeat, name="agentfleet-asg-heartbeat", daemon=True
                )
                self._threads.append(heartbeat)
                heartbeat.start()
                if not draining:
                    on_terminate()
                return
            self._stop.wait(self.poll_interval)

    def _heartbeat(self) -> None:
        while not (self._stop.is_set() or self._drained.is_set()):
            try:
                self.autoscaling.record_lifecycle_action_heartbeat(
                    LifecycleHookName=self.hook,
                    AutoScalingGroupName=self.group,
                    InstanceId=self.instance_id,
                )
            except Exception as error:  # a missed heartbeat is retried next interval
                self._log.warning("lifecycle heartbeat failed", error=str(error))
            if self._drained.wait(self.heartbeat_interval):
                return


def instance_metadata() -> Imds:
    """IMDSv2 at boto3's own override, `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the link-local address."""
    return Imds(os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", DEFAULT_IMDS))


def aws_region(configured: str, imds: Imds) -> str | None:
    """AGENTFLEET_REGION, else the SDK's variables, else the instance's own region from IMDS."""
    region = configured or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        try:  # on EC2 the instance's own region is in its metadata
            region = imds.get("/latest/meta-data/placement/region")
        except OSError:
            region = None
    return region or None


def from_settings(settings: Settings) -> AsgLifecycleWatcher:
    import boto3

    imds = instance_metadata()
    region = aws_region(settings.region, imds)
    return AsgLifecycleWatcher(
        boto3.client("autoscaling", region_name=region or None),
        hook=settings.lifecycle_hook,
        group=settings.group,
        imds=imds,
    )
