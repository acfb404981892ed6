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


def fires(r: dict[str, Any], backlog: float, agents: int) -> bool:
    """Whether a rule's trigger holds for a steady backlog and fleet size (Azure's documented
    comparison of the metric, divided per instance when dividePerInstance is set)."""
    t = r["metricTrigger"]
    value = backlog / agents if t["dividePerInstance"] else backlog
    compare = {
        "GreaterThan": value > t["threshold"],
        "GreaterThanOrEqual": value >= t["threshold"],
        "LessThan": value < t["threshold"],
        "LessThanOrEqual": value <= t["threshold"],
    }
    return compare[t["operator"]]


def test_autoscale_targets_this_scale_set(stack: Synthesis) -> None:
    setting, vmss = stack.one(AUTOSCALE), stack.one(VMSS)
    assert setting.inputs["targetResourceUri"] == vmss.id
    assert setting.inputs["enabled"] is True
    assert setting.parent == vmss.parent  # both children of the fleet component


def test_every_rule_watches_active_messages_of_this_namespace_and_queue(stack: Synthesis) -> None:
    namespace, queue = stack.one(NAMESPACE), stack.one(QUEUE)
    assert len(rules(stack)) == 3
    for r in rules(stack):
        trigger = r["metricTrigger"]
        assert trigger["metricResourceUri"] == namespace.id
        assert trigger["metricName"] == "ActiveMessages"
        assert trigger["metricNamespace"] == "Microsoft.ServiceBus/namespaces"
        assert trigger["dimensions"] == [
            {"dimensionName": "EntityName", "operator": "Equals", "values": [queue.outputs["queueName"]]}
        ]
        assert trigger["timeGrain"] == "PT1M" and trigger["timeWindow"] == "PT5M"


NOTICE = (
    "agentfleet: fleet.scaling.min_agents=0: on Azure the fleet keeps 1 agent; Azure autoscale cannot "
    "start an agent from zero for a small backlog without holding a trickle at its burst size "
    '(docs/azure.md, "Scaling from zero")'
)


def test_min_agents_zero_keeps_one_agent_and_says_so(stack: Synthesis) -> None:
    # No rule can start an agent at zero for a small backlog without firing on a trickle too
    # (docs/azure.md, "Scaling from zero"), so the scale set never goes below one agent.
    # Failed before: minimum "0" and no notice.
    assert profile(stack)["capacity"] == {"minimum": "1", "maximum": "25", "default": "1"}
    assert stack.notes.count(NOTICE) == 1


def test_a_queue_at_zero_agents_is_impossible() -> None:
    # Whatever min_agents says, the autoscale minimum is at least one agent: no fleet size exists
    # at which every message waits for a rule that cannot fire. Failed before: minimum "0".
    for min_agents in (0, 1, 3):
        s = synth("azure", {"scaling": {**SCALING, "min_agents": min_agents}})
        assert int(profile(s)["capacity"]["minimum"]) == max(1, min_agents)
        assert int(profile(s)["capacity"]["default"]) >= 1


def test_the_scale_set_is_created_with_one_agent_too(stack: Synthesis) -> None:
    # Its first count, before autoscale's first evaluation. Failed before: capacity 0.
    assert stack.one(VMSS).inputs["sku"]["capacity"] == 1


def test_capacity_default_is_min_agents_when_above_zero() -> None:
    s = synth("azure", {"scaling": {**SCALING, "min_agents": 3}})
    assert profile(s)["capacity"] == {"minimum": "3", "maximum": "25", "default": "3"}
    assert NOTICE not in s.notes


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
    for r in rules(stack):
        if r["scaleAction"]["direction"] == "Increase":
            assert r["scaleAction"]["cooldown"] == "PT1M"


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


def test_no_scale_out_rule_fires_unless_the_policy_wants_more_agents(stack: Synthesis) -> None:
    # While any scale-out rule fires Azure evaluates no scale-in rule. The old start-from-zero
    # rule (queue total >= 1) fired on a trickle at any fleet size and so held a burst's fleet
    # up. Failed before: backlog 1 with 25 agents fired it. Now, for every fleet size, a
    # scale-out rule fires only when backlog > agents x target (the policy wants more).
    target = SCALING["target_backlog_per_agent"]
    for agents in range(1, SCALING["max_agents"] + 1):
        for backlog in range(0, SCALING["max_agents"] * target * 3):
            for r in rules(stack):
                if r["scaleAction"]["direction"] == "Increase" and fires(r, backlog, agents):
                    assert backlog > agents * target, (r, backlog, agents)


def test_a_trickle_lets_the_fleet_scale_in(stack: Synthesis) -> None:
    # One message waiting, 25 agents: nothing scales out, and the scale-in rule holds.
    assert not any(fires(r, 1, 25) for r in rules(stack) if r["scaleAction"]["direction"] == "Increase")
    assert fires(rule(stack, "Decrease", "ChangeCount"), 1, 25)


def test_every_scale_out_action_adds_agents(stack: Synthesis) -> None:
    # ExactCount on an Increase rule is not documented to be clamped at the current count: with
    # N > 1 agents it might set the fleet to the exact count. Failed before: ExactCount 1.
    for r in rules(stack):
        action = r["scaleAction"]
        if action["direction"] == "Increase":
            assert action["type"] in ("ChangeCount", "PercentChangeCount"), action
            assert int(action["value"]) > 0


def test_every_rule_is_per_agent_whatever_min_agents() -> None:
    # The start-backstop (a queue-total rule above max_agents x target) is gone: the fleet never
    # is at zero, and a queue total would be one more rule to keep from firing on a trickle.
    # Failed before: min_agents 0 added a rule with dividePerInstance false.
    for min_agents in (0, 2):
        s = synth("azure", {"scaling": {**SCALING, "min_agents": min_agents}})
        assert [(r["scaleAction"]["direction"], r["scaleAction"]["type"]) for r in rules(s)] == [
            ("Increase", "ChangeCount"),
            ("Increase", "PercentChangeCount"),
            ("Decrease", "ChangeCount"),
        ]
        for r in rules(s):
            assert r["metricTrigger"]["dividePerInstance"] is True


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
