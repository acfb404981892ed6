"""The Azure model against autoscale's documented rules."""

from __future__ import annotations

from dataclasses import replace

from agentfleet.components.policy import ScalingPolicy
from agentfleet.providers.azure.simulation import AzureModel, AzureTimings
from agentfleet.simulate.engine import simulate
from agentfleet.simulate.scenarios import Durations, scenario
from tests.simulate.conftest import drive, fleet

FAST = replace(AzureTimings(), metric_delay_seconds=0.0)


def azure(timings: AzureTimings = FAST, **scaling: int) -> AzureModel:
    config = fleet(**scaling)
    return AzureModel(config, ScalingPolicy.from_config(config), timings)


def test_after_a_scale_out_nothing_happens_before_its_cooldown() -> None:
    model = azure(min_agents=1, max_agents=50, target_backlog_per_agent=10)
    changes = drive(model, 900, 1, lambda t: 15)  # 15 per agent at 1 agent: backlog-high
    times = [t for t, _, _ in changes]
    assert all(b - a >= model.out_cooldown for a, b in zip(times, times[1:], strict=False))


def test_the_cooldown_is_the_one_of_the_rule_that_fired_last() -> None:
    model = azure(min_agents=1, max_agents=50, target_backlog_per_agent=10, scale_in_cooldown_seconds=600)
    changes = drive(model, 3600, 6, lambda t: 0)
    ins = [t for t, before, after in changes if after < before]
    assert len(ins) >= 2 and all(b - a >= 600 for a, b in zip(ins, ins[1:], strict=False))


def test_burst_doubles_and_high_adds_one() -> None:
    model = azure(min_agents=1, max_agents=50, target_backlog_per_agent=10)
    assert model.scale_out(avg=50.0, n=2) == (4, "backlog-burst")
    assert model.scale_out(avg=30.0, n=2) == (3, "backlog-high")
    assert model.scale_out(avg=20.0, n=2) is None  # 10 per agent is not above the target


def test_flapping_estimate_holds_a_scale_in_that_would_be_undone() -> None:
    model = azure(min_agents=1, max_agents=50, target_backlog_per_agent=10)
    # 2 agents, 15 messages: 7.5 per agent is under the target, but 15 for one agent is over it.
    assert drive(model, 1800, 2, lambda t: 15) == []
    assert model.actions["flapping-held"] > 0


def test_with_min_zero_a_trickle_steps_the_fleet_down_to_one_agent_not_zero() -> None:
    """No rule fires on a trickle, so backlog-low steps the fleet down, but never below the scale
    set's minimum of one agent (docs/azure.md, "Scaling from zero"). Failed before: it reached 0
    and the messages waited for ever."""
    model = azure(min_agents=0, max_agents=50, target_backlog_per_agent=10, scale_in_cooldown_seconds=60)
    changes = drive(model, 3600, 3, lambda t: 1)
    assert changes[-1][2] == 1
    assert all(after >= 1 for _, _, after in changes)


def test_the_model_keeps_one_agent_whatever_min_agents() -> None:
    """The simulator starts a fleet at, and never takes it below, the lifecycle's fewest agents.
    Failed before: min_agents 0 gave 0."""
    assert azure(min_agents=0).lifecycle.fewest_agents == 1
    assert azure(min_agents=3, max_agents=10).lifecycle.fewest_agents == 3


def test_one_message_is_taken_on_a_scale_to_zero_fleet() -> None:
    """The simulated fleet, end to end: min_agents 0, one message every 20 minutes. Failed
    before: none was ever taken."""
    config = fleet(min_agents=0, max_agents=10)
    sc = scenario("trickle", config, Durations())
    run = simulate(config, AzureModel(config, ScalingPolicy.from_config(config)), sc)
    assert run.completed == sc.tasks
    assert run.min_agents == 1 and run.capacity.min() == 1
    assert run.duration < sc.seconds + sc.tail_seconds  # stops once idle at one agent


def test_metrics_arrive_minutes_late() -> None:
    config = fleet(min_agents=1, max_agents=10)
    model = AzureModel(config, ScalingPolicy.from_config(config))
    first = drive(model, 900, 1, lambda t: 15)[0]
    assert first[0] >= AzureTimings().metric_delay_seconds + 60
