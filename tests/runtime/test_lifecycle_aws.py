"""The ASG lifecycle watcher against a local server speaking IMDSv2 and the Auto Scaling Query API
(boto3 serializes real requests to it over HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agentfleet.agent.lifecycle.aws import AsgLifecycleWatcher, Imds, from_settings
from agentfleet.agent.settings import Settings
from tests.runtime.fakes.metadata import AwsPeer, serve


def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


@pytest.fixture
def peer() -> Iterator[AwsPeer]:
    p = AwsPeer()
    with serve(p):
        yield p


def autoscaling(url: str) -> Any:
    import boto3

    return boto3.client(
        "autoscaling",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def watcher(peer: AwsPeer, **kwargs: Any) -> AsgLifecycleWatcher:
    return AsgLifecycleWatcher(
        autoscaling(peer.url),
        hook=peer.hook,
        group=peer.group,
        imds=Imds(peer.url),
        poll_interval=0.05,
        **kwargs,
    )


def test_no_notice_while_in_service(peer: AwsPeer) -> None:
    fired = threading.Event()
    w = watcher(peer)
    w.start(fired.set)
    time.sleep(0.3)
    w.stop()
    assert not fired.is_set()
    assert peer.unauthorized_gets == 0  # every GET carried the IMDSv2 token
    assert w.instance_id == peer.instance_id


def test_terminated_state_starts_the_drain_and_heartbeats_until_drained(peer: AwsPeer) -> None:
    fired = threading.Event()
    w = watcher(peer, heartbeat_interval=0.1)
    w.start(fired.set)
    time.sleep(0.2)
    peer.target_state = "Terminated"
    assert fired.wait(5)
    assert wait_until(lambda: len(peer.actions("RecordLifecycleActionHeartbeat")) >= 3)
    w.on_drained()
    beats = len(peer.actions("RecordLifecycleActionHeartbeat"))
    time.sleep(0.3)
    assert len(peer.actions("RecordLifecycleActionHeartbeat")) == beats  # heartbeats stopped
    (complete,) = peer.actions("CompleteLifecycleAction")
    assert complete["LifecycleActionResult"] == "CONTINUE"
    assert complete["LifecycleHookName"] == peer.hook
    assert complete["AutoScalingGroupName"] == peer.group
    assert complete["InstanceId"] == peer.instance_id
    w.on_drained()  # a second call does not complete twice
    assert len(peer.actions("CompleteLifecycleAction")) == 1
    w.stop()


def test_drained_without_a_notice_completes_nothing(peer: AwsPeer) -> None:
    w = watcher(peer)
    w.start(lambda: None)
    time.sleep(0.1)
    w.on_drained()
    w.stop()
    assert peer.actions("CompleteLifecycleAction") == []


def test_expired_token_is_renewed(peer: AwsPeer) -> None:
    imds = Imds(peer.url)
    assert imds.get("/latest/meta-data/instance-id") == peer.instance_id
    peer.tokens.clear()  # IMDS forgot the token (expired)
    assert imds.get("/latest/meta-data/instance-id") == peer.instance_id
    assert imds.get("/latest/meta-data/no-such-thing") is None


def test_missing_hook_or_group_names_the_variables() -> None:
    with pytest.raises(ValueError, match="AGENTFLEET_LIFECYCLE_HOOK and AGENTFLEET_GROUP"):
        AsgLifecycleWatcher(object(), hook="", group="g")


def test_from_settings_uses_boto3_metadata_endpoint(peer: AwsPeer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", peer.url)
    settings = Settings(
        backend="sqs", queue="q", lifecycle="aws-asg", lifecycle_hook="h", group="g", region="eu-west-1"
    )
    w = from_settings(settings)
    assert (w.hook, w.group, w.imds.base_url) == ("h", "g", peer.url)
    assert w.autoscaling.meta.region_name == "eu-west-1"


def test_a_failed_completion_is_retried(peer: AwsPeer) -> None:
    fired = threading.Event()
    w = watcher(peer, heartbeat_interval=5)
    w.start(fired.set)
    peer.target_state = "Terminated"
    assert fired.wait(5)
    real_hook, peer.hook = peer.hook, "not-yet"  # the API refuses the first attempts ...
    threading.Timer(0.3, lambda: setattr(peer, "hook", real_hook)).start()  # ... then accepts
    w.on_drained()
    completes = peer.actions("CompleteLifecycleAction")
    assert len(completes) >= 2 and not peer.action_open
    w.stop()


def test_importing_the_module_loads_no_cloud_sdk() -> None:
    """The SDK is imported when the backend is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import("agentfleet.agent.lifecycle.aws") == []


# -- Spot interruptions (issue 15, finding 13) -----------------------------------------------

SPOT_NOTICE = '{"action": "terminate", "time": "2026-12-01T12:02:00Z"}'


def test_a_spot_interruption_notice_starts_the_drain(peer: AwsPeer) -> None:
    fired = threading.Event()
    w = watcher(peer, heartbeat_interval=0.1)
    w.start(fired.set)
    time.sleep(0.2)
    assert not fired.is_set()
    peer.spot_action = SPOT_NOTICE  # two minutes' notice; the group has not moved yet
    assert fired.wait(5)
    assert w.spot_notice == SPOT_NOTICE
    w.on_drained()  # no lifecycle action is pending: nothing to complete
    assert peer.actions("CompleteLifecycleAction") == []
    w.stop()


def test_a_spot_drain_still_completes_the_lifecycle_action_that_follows(peer: AwsPeer) -> None:
    calls: list[str] = []
    w = watcher(peer, heartbeat_interval=0.1)
    w.start(lambda: calls.append("drain"))
    peer.spot_action = SPOT_NOTICE
    assert wait_until(lambda: calls == ["drain"])
    peer.target_state = "Terminated"  # the group now runs its termination hook
    assert wait_until(lambda: w.terminating.is_set())
    assert wait_until(lambda: len(peer.actions("RecordLifecycleActionHeartbeat")) >= 1)
    w.on_drained()
    assert [c["LifecycleActionResult"] for c in peer.actions("CompleteLifecycleAction")] == ["CONTINUE"]
    assert calls == ["drain"], "one drain, not two"
    w.stop()


def test_notices_are_checked_every_5_seconds_as_aws_recommends() -> None:
    assert AsgLifecycleWatcher(object(), hook="h", group="g").poll_interval == 5.0
