"""The AWS scaling policy: target tracking on backlog per agent, and the path from zero agents."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.validation import parse_fleet
from agentfleet.providers.aws.scaling import BACKLOG_PER_AGENT
from agentfleet.providers.aws.settings import FROM_ZERO_STEPS, capacity_from_zero, from_zero_steps
from tests.infra.aws_helpers import aws_synth
from tests.infra.helpers import BASE_FLEET, deep_merge

POLICY = "aws:autoscaling/policy:Policy"


def metrics_by_id(policy_inputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = policy_inputs["targetTrackingConfiguration"]["customizedMetricSpecification"]
    return {m["id"]: m for m in spec["metrics"]}


def test_target_tracking_uses_backlog_per_agent_at_the_configured_target() -> None:
    s = aws_synth({"scaling": {"target_backlog_per_agent": 25}})
    policy = s.named("moodring-backlog-per-agent").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["autoscalingGroupName"] == s.named("moodring-agents").outputs["name"]
    tt = policy["targetTrackingConfiguration"]
    assert tt["targetValue"] == 25
    assert tt.get("disableScaleIn") is False
    metrics = metrics_by_id(policy)
    assert metrics["backlog_per_agent"]["expression"] == BACKLOG_PER_AGENT == "(visible + inflight) / agents"
    assert [m["id"] for m in metrics.values() if m["returnData"]] == ["backlog_per_agent"]


def test_metric_math_reads_this_queue_and_this_group() -> None:
    s = aws_synth()
    queue_name = s.named("moodring-queue").outputs["name"]
    group_name = s.named("moodring-agents").outputs["name"]
    metrics = metrics_by_id(s.named("moodring-backlog-per-agent").inputs)

    def stat(metric_id: str) -> dict[str, Any]:
        return metrics[metric_id]["metricStat"]["metric"]

    assert stat("visible")["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert stat("inflight")["metricName"] == "ApproximateNumberOfMessagesNotVisible"
    for metric_id in ("visible", "inflight"):
        assert stat(metric_id)["namespace"] == "AWS/SQS"
        assert stat(metric_id)["dimensions"] == [{"name": "QueueName", "value": queue_name}]
    assert stat("agents")["namespace"] == "AWS/AutoScaling"
    assert stat("agents")["metricName"] == "GroupInServiceInstances"
    assert stat("agents")["dimensions"] == [{"name": "AutoScalingGroupName", "value": group_name}]


def test_metric_periods_are_ones_each_api_accepts() -> None:
    # Target tracking's MetricStat.Period takes only 10, 30 or 60 s; an alarm's period 10, 30 or a
    # multiple of 60. A change to the policy's metric period must not slip past either.
    s = aws_synth()
    tracked = metrics_by_id(s.named("moodring-backlog-per-agent").inputs)
    periods = [m["metricStat"]["period"] for m in tracked.values() if "metricStat" in m]
    assert len(periods) == 3 and all(p in (10, 30, 60) for p in periods)
    for alarm in s.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        inputs = alarm.inputs
        alarm_periods = [q["metric"]["period"] for q in inputs.get("metricQueries", []) if "metric" in q]
        alarm_periods += [inputs["period"]] if "period" in inputs else []
        assert alarm_periods and all(p in (10, 30) or p % 60 == 0 for p in alarm_periods), alarm.name


def test_scale_from_zero_alarm_drives_the_step_policy() -> None:
    s = aws_synth()
    alarm = s.named("moodring-work-at-zero").inputs
    step = s.named("moodring-from-zero")
    assert alarm["alarmActions"] == [step.outputs["arn"]]
    assert alarm["threshold"] == 1
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    assert queries["waiting_at_zero"]["expression"] == "IF(FILL(desired, 0) == 0, FILL(visible, 0), 0)"
    assert queries["visible"]["metric"]["dimensions"] == {"QueueName": "moodring-queue"}
    assert queries["desired"]["metric"]["dimensions"] == {"AutoScalingGroupName": "moodring-agents"}
    assert step.inputs["policyType"] == "StepScaling"
    assert step.inputs["autoscalingGroupName"] == "moodring-agents"


def test_from_zero_alarm_reads_desired_capacity_over_m_of_n_minutes() -> None:
    # In-service lags by a boot: at 1-of-1 the step re-fired every minute until the first agent was
    # in service. Desired capacity moves with the scaling activity; 2 of 3 minutes means one late
    # or missing minute (where FILL can leave an alarm stuck) decides nothing.
    alarm = aws_synth().named("moodring-work-at-zero").inputs
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    assert queries["desired"]["metric"]["metricName"] == "GroupDesiredCapacity"
    assert "GroupInServiceInstances" not in str(alarm["metricQueries"])
    assert (alarm["datapointsToAlarm"], alarm["evaluationPeriods"]) == (2, 3)
    assert "GroupDesiredCapacity" in aws_synth().one("aws:autoscaling/group:Group").inputs["enabledMetrics"]


def test_from_zero_step_can_only_add_agents() -> None:
    # ExactCapacity reset the group to min(10, ceil(visible/target)) whenever the group metric lagged,
    # below what target tracking had set. ChangeInCapacity with positive steps never lowers it.
    s = aws_synth({"scaling": {"warmup_seconds": 30}})
    step = s.named("moodring-from-zero").inputs
    assert step["adjustmentType"] == "ChangeInCapacity"
    assert all(a["scalingAdjustment"] > 0 for a in step["stepAdjustments"])
    # Warming agents are not current capacity, so repeats within the warm-up add nothing; the
    # warm-up covers the alarm's 3-minute window even when the agents' own is shorter.
    assert step["estimatedInstanceWarmup"] >= 3 * 60


def test_from_zero_steps_are_the_recorded_step_adjustments() -> None:
    s = aws_synth({"scaling": {"target_backlog_per_agent": 5, "max_agents": 3}})
    recorded = s.named("moodring-from-zero").inputs["stepAdjustments"]
    assert [
        (a["scalingAdjustment"], a["metricIntervalLowerBound"], a.get("metricIntervalUpperBound"))
        for a in recorded
    ] == [
        (1, "0", "5"),
        (2, "5", "10"),
        (3, "10", None),
    ]


def test_no_scale_from_zero_path_when_the_fleet_never_reaches_zero() -> None:
    s = aws_synth({"scaling": {"min_agents": 1}})
    assert [p.name for p in s.of_type(POLICY)] == ["moodring-backlog-per-agent"]
    assert all(a.name != "moodring-work-at-zero" for a in s.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))


def policy_for(target: int, max_agents: int) -> ScalingPolicy:
    fleet = deep_merge(
        BASE_FLEET, {"scaling": {"target_backlog_per_agent": target, "max_agents": max_agents}}
    )
    return ScalingPolicy.from_config(parse_fleet(fleet))


@given(
    target=st.integers(min_value=1, max_value=500),
    max_agents=st.integers(min_value=1, max_value=1000),
    visible=st.integers(min_value=0, max_value=100_000),
)
def test_from_zero_capacity_is_what_the_neutral_policy_asks_for(
    target: int, max_agents: int, visible: int
) -> None:
    policy = policy_for(target, max_agents)
    got = capacity_from_zero(policy, visible)
    if visible < policy.scale_from_zero_threshold:
        assert got is None
    else:
        assert got == min(policy.desired_agents(visible, 0), FROM_ZERO_STEPS)


@given(target=st.integers(min_value=1, max_value=500), max_agents=st.integers(min_value=1, max_value=1000))
def test_from_zero_steps_are_contiguous_and_end_open(target: int, max_agents: int) -> None:
    steps = from_zero_steps(policy_for(target, max_agents))
    assert steps[0].lower == 0
    assert steps[-1].upper is None
    assert all(a.upper == b.lower for a, b in zip(steps, steps[1:], strict=False))
    assert len(steps) == min(max_agents, FROM_ZERO_STEPS) <= 20  # AWS allows 20 step adjustments
