"""aws-asg protection: IMDSv2 names the instance, `SetInstanceProtection` flips its flag.

The Auto Scaling API is moto's server (it implements SetInstanceProtection and reports the flag
back in DescribeAutoScalingInstances); IMDSv2 is the local peer the lifecycle tests use. The
throttling case needs an API that throttles, which moto never does: a local server answering
the Query API's `Throttling` error (HTTP 400, the documented common error) a set number of times.
"""

# ruff: noqa: F811  (pytest fixtures imported from tests.runtime.peers)
from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agentfleet.agent.lifecycle.aws import Imds
from agentfleet.agent.protection import ProtectionSettings, Protector
from agentfleet.agent.protection.aws import AsgProtection
from tests.runtime.fakes.metadata import AwsPeer, serve
from tests.runtime.peers import MotoServer
from tests.runtime.test_protection import metric, wait_until

GROUP = "fleet-agents"


def client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "autoscaling",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1}
        ),  # the protector's backoff is under test
    )


@pytest.fixture
def group(moto_server: MotoServer) -> Iterator[tuple[Any, str]]:
    """A real (moto) Auto Scaling group with one instance: (client, instance id)."""
    moto_server.reset()
    asg = client(moto_server.endpoint_url)
    asg.create_launch_configuration(
        LaunchConfigurationName="agents", ImageId="ami-12c6146b", InstanceType="t3.micro"
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchConfigurationName="agents",
        MinSize=1,
        MaxSize=2,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )
    (instance,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0][
        "Instances"
    ]
    yield asg, instance["InstanceId"]


def protected_in_moto(asg: Any, instance_id: str) -> bool:
    (info,) = asg.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
    return bool(info["ProtectedFromScaleIn"])


def test_busy_protects_and_idle_unprotects_the_instance_imds_names(group: tuple[Any, str]) -> None:
    asg, instance_id = group
    peer = AwsPeer(instance_id=instance_id, group=GROUP)
    with serve(peer):
        backend = AsgProtection(asg, group=GROUP, imds=Imds(peer.url))
        backend.apply(True)
        assert protected_in_moto(asg, instance_id)
        assert backend.instance_id == instance_id
        backend.apply(False)
        assert not protected_in_moto(asg, instance_id)
    assert peer.unauthorized_gets == 0  # IMDSv2: every GET carried the session token


def test_the_protector_drives_the_real_api_through_busy_and_idle(group: tuple[Any, str]) -> None:
    from tests.runtime.test_protection import hold

    asg, instance_id = group
    registry = CollectorRegistry()
    with serve(AwsPeer(instance_id=instance_id, group=GROUP)) as url:
        p = Protector(AsgProtection(asg, group=GROUP, imds=Imds(url)), registry, idle_grace_seconds=0.1)
        try:
            release, thread = hold(p)
            assert wait_until(lambda: metric(registry, "agentfleet_protected") == 1)
            assert protected_in_moto(asg, instance_id)
            release.set()
            thread.join(5)
            assert wait_until(lambda: metric(registry, "agentfleet_protected") == 0)
            assert not protected_in_moto(asg, instance_id)
        finally:
            p.stop()


@dataclass
class ThrottlingAsg(AwsPeer):
    """IMDSv2 plus an Auto Scaling endpoint that answers `Throttling` to the first `throttle` calls."""

    throttle: int = 2

    def _autoscaling(self, form: dict[str, str]) -> tuple[int, str, str]:
        self.calls.append(form)
        if form.get("Action") != "SetInstanceProtection":
            return 400, "text/xml", "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>"
        if len(self.calls) <= self.throttle:
            body = (
                '<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error>'
                "<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
                f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
            )
            return 400, "text/xml", body
        ok = (
            '<SetInstanceProtectionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">'
            "<SetInstanceProtectionResult/><ResponseMetadata>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></SetInstanceProtectionResponse>"
        )
        return 200, "text/xml", ok


def test_throttling_is_retried_with_backoff_counted_and_the_request_is_the_documented_one() -> None:
    peer = ThrottlingAsg(group=GROUP, throttle=2)
    registry = CollectorRegistry()
    with serve(peer) as url:
        p = Protector(
            AsgProtection(client(url), group=GROUP, imds=Imds(url)),
            registry,
            min_backoff=0.01,
            max_backoff=0.05,
        )
        try:
            assert wait_until(lambda: len(peer.calls) == 3)  # throttled twice, then accepted
            assert wait_until(lambda: p.applied is False)
        finally:
            p.stop()
    assert metric(registry, "agentfleet_protection_failures_total", {"reason": "throttled"}) == 2
    last = peer.calls[-1]
    assert last["Action"] == "SetInstanceProtection" and last["Version"] == "2011-01-01"
    assert last["AutoScalingGroupName"] == GROUP
    assert last["InstanceIds.member.1"] == peer.instance_id
    assert last["ProtectedFromScaleIn"] == "false"


def test_a_denied_call_is_an_error_the_protector_counts(group: tuple[Any, str]) -> None:
    asg, instance_id = group
    with serve(AwsPeer(instance_id=instance_id, group="some-other-group")) as url:
        backend = AsgProtection(asg, group="some-other-group", imds=Imds(url))
        with pytest.raises(Exception):  # noqa: B017 - moto's error for an unknown group
            backend.apply(True)


def test_aws_settings_need_the_group_and_load_no_other_cloud() -> None:
    settings = ProtectionSettings.from_env(
        {"AGENTFLEET_PROTECTION": "aws-asg", "AGENTFLEET_GROUP": GROUP, "AGENTFLEET_REGION": "eu-west-1"}
    )
    assert (settings.kind, settings.group, settings.region) == ("aws-asg", GROUP, "eu-west-1")
    from agentfleet.agent.protection.aws import from_settings

    backend = from_settings(settings)
    assert backend.autoscaling.meta.region_name == "eu-west-1"
    assert urllib.parse.urlsplit(backend.imds.base_url).hostname == "169.254.169.254"
