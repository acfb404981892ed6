"""The termination hook: the heartbeat covers the drain, and it belongs to this group."""

from __future__ import annotations

from agentfleet.components.policy import SHUTDOWN_MARGIN_SECONDS
from tests.infra.aws_helpers import aws_synth

HOOK = "aws:autoscaling/lifecycleHook:LifecycleHook"


def test_hook_heartbeat_covers_the_drain_and_continues_termination() -> None:
    s = aws_synth({"agent": {"drain_timeout_seconds": 600}})
    hook = s.one(HOOK).inputs
    assert hook["heartbeatTimeout"] == 600 + SHUTDOWN_MARGIN_SECONDS
    assert hook["defaultResult"] == "CONTINUE"
    assert hook["lifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["autoscalingGroupName"] == s.named("moodring-agents").outputs["name"]
    assert hook["name"] == "moodring-drain"


def test_short_drain_still_gets_the_30_second_minimum_heartbeat() -> None:
    # drain 1 s + margin 30 s = 31 s is within 30-7,200; the lower clamp never shortens a drain.
    hook = aws_synth({"agent": {"drain_timeout_seconds": 1}}).one(HOOK).inputs
    assert 30 <= hook["heartbeatTimeout"] == 1 + SHUTDOWN_MARGIN_SECONDS


def test_longest_drain_aws_allows_fits_the_heartbeat_exactly() -> None:
    hook = aws_synth({"agent": {"drain_timeout_seconds": 7200 - SHUTDOWN_MARGIN_SECONDS}}).one(HOOK).inputs
    assert hook["heartbeatTimeout"] == 7200
