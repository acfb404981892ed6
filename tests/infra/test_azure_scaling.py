"""The Azure autoscale setting really follows THIS queue's backlog, with the config's numbers."""

from __future__ import annotations

from typing import Any

import pytest

from agentfleet.synth import Recorded, Synthesis
from tests.infra.helpers import synth

AUTOSCALE = "azure-native:monitor:AutoscaleSetting"
NAMESPACE = "azure-native:servicebus:Namespace"
QUEUE = "azure-native:servicebus:Queue"
VMSS = "azure-native:compute:VirtualMachineScaleSet"

SCALING = {
    "min_agents": 0,
    "max_agents": 25,
    "target_backlog_per_agent": 7,
    "warmup_seconds": 45,
    "scale_in_cooldown_seconds": 420,
}


@pytest.fixture(scope="module")
def stack() -> Synthesis:
    return synth("azure", {"scaling": SCALING})


def profile(s: Synthesis) -> dict[str, Any]:
    profiles = s.one(AUTOSCALE).inputs["profiles"]
    assert len(profiles) == 1
    return dict(profiles[0])


def rules(s: Synthesis) -> list[dict[str, Any]]:
    return list(profile(s)["rules"])


def rule(s: Synthesis, direction: str, action: str) -> dict[str, Any]:
    found = [
        r
        for r in rules(s)
        if r["scaleAction"]["direction"] == direction and r["scaleAction"]["type"] == action
    ]
    assert len(found) == 1, found
    return found[0]


def test_autoscale_targets_this_scale_set(stack: Synthesis) -> None:
    setting, vmss = stack.one(AUTOSCALE), stack.one(VMSS)
    assert setting.inputs["targetResourceUri"] == vmss.id
    assert setting.inputs["enabled"] is True
    assert setting.parent == vmss.parent  # both children of the fleet component


def test_every_rule_watches_active_messages_of_this_namespace_and_queue(stack: Synthesis) -> None:
    namespace, queue = stack.one(NAMESPACE), stack.one(QUEUE)
    assert len(rules(stack)) == 4
    for r in rules(stack):
        trigger = r["metricTrigger"]
        assert trigger["metricResourceUri"] == namespace.id
        assert trigger["metricName"] == "ActiveMessages"
        assert trigger["metricNamespace"] == "Microsoft.ServiceBus/namespaces"
        assert trigger["dimensions"] == [
            {"dimensionName": "EntityName", "operator": "Equals", "values": [queue.outputs["queueName"]]}
        ]
        assert trigger["timeGrain"] == "PT1M" and trigger["timeWindow"] == "PT5M"


def test_capacity_comes_from_config(stack: Synthesis) -> None:
    # default is what Azure falls back to without metrics: never 0, so an outage can't stop work.
    assert profile(stack)["capacity"] == {"minimum": "0", "maximum": "25", "default": "1"}


def test_capacity_default_is_min_agents_when_above_zero() -> None:
    s = synth("azure", {"scaling": {**SCALING, "min_agents": 3}})
    assert profile(s)["capacity"] == {"minimum": "3", "maximum": "25", "default": "3"}


def test_scale_out_divides_the_backlog_per_instance_at_the_target(stack: Synthesis) -> None:
    out = rule(stack, "Increase", "ChangeCount")
    assert out["metricTrigger"]["dividePerInstance"] is True
    assert out["metricTrigger"]["operator"] == "GreaterThan"
    assert out["metricTrigger"]["threshold"] == 7
    assert out["scaleAction"]["value"] == "1"


def test_burst_doubles_the_fleet_at_twice_the_target(stack: Synthesis) -> None:
    burst = rule(stack, "Increase", "PercentChangeCount")
    assert burst["metricTrigger"]["dividePerInstance"] is True
    assert burst["metricTrigger"]["threshold"] == 14
    assert burst["scaleAction"]["value"] == "100"


def test_scale_out_cooldown_is_the_policy_s_short_one(stack: Synthesis) -> None:
    # warmup 45 s -> policy scale-out cooldown 45 s -> Azure's 1-minute minimum.
    for action in ("ChangeCount", "PercentChangeCount", "ExactCount"):
        assert rule(stack, "Increase", action)["scaleAction"]["cooldown"] == "PT1M"


def test_scale_in_divides_per_instance_and_waits_the_configured_cooldown(stack: Synthesis) -> None:
    scale_in = rule(stack, "Decrease", "ChangeCount")
    assert scale_in["metricTrigger"]["dividePerInstance"] is True
    assert scale_in["metricTrigger"]["operator"] == "LessThan"
    assert scale_in["metricTrigger"]["threshold"] == 7
    assert scale_in["scaleAction"] == {
        "direction": "Decrease",
        "type": "ChangeCount",
        "value": "1",
        "cooldown": "PT7M",
    }


def test_scale_in_cooldown_rounds_up_to_whole_minutes() -> None:
    s = synth("azure", {"scaling": {**SCALING, "scale_in_cooldown_seconds": 3_630}})
    assert rule(s, "Decrease", "ChangeCount")["scaleAction"]["cooldown"] == "PT1H1M"


def test_scale_from_zero_starts_one_agent_on_the_queue_total(stack: Synthesis) -> None:
    # A per-instance ratio has no value at zero agents: this rule looks at the queue's total.
    start = rule(stack, "Increase", "ExactCount")
    trigger = start["metricTrigger"]
    assert trigger["dividePerInstance"] is False
    assert trigger["operator"] == "GreaterThanOrEqual"
    assert trigger["threshold"] == 1
    assert trigger["timeAggregation"] == "Maximum"
    assert start["scaleAction"]["value"] == "1"


def test_no_start_from_zero_rule_when_the_fleet_never_is_at_zero() -> None:
    # Azure evaluates scale-in rules only when no scale-out rule fires; the start-from-zero rule
    # fires whenever a message is in the queue, so with it a busy fleet could never scale in.
    s = synth("azure", {"scaling": {**SCALING, "min_agents": 2}})
    assert [r["scaleAction"]["type"] for r in rules(s) if r["scaleAction"]["direction"] == "Increase"] == [
        "ChangeCount",
        "PercentChangeCount",
    ]
    for r in rules(s):
        assert r["metricTrigger"]["dividePerInstance"] is True  # every rule is per agent
    assert rule(s, "Decrease", "ChangeCount")["metricTrigger"]["threshold"] == 7


def test_a_second_fleet_watches_its_own_queue() -> None:
    s = synth("azure", {"name": "othername"})
    queue = s.one(QUEUE)
    assert queue.inputs["queueName"] == "othername"
    for r in rules(s):
        assert r["metricTrigger"]["dimensions"][0]["values"] == ["othername"]


def _names(records: list[Recorded]) -> list[str]:
    return [r.name for r in records]


def test_preview_still_registers_the_autoscale_setting() -> None:
    s = synth("azure", {"scaling": SCALING}, preview=True)
    assert _names(s.of_type(AUTOSCALE)) == ["moodring-autoscale"]
    assert profile(s)["capacity"]["maximum"] == "25"
