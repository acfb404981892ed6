"""The Azure model against autoscale's documented rules."""

from __future__ import annotations

from dataclasses import replace

from agentfleet.components.policy import ScalingPolicy
from agentfleet.providers.azure.simulation import AzureModel, AzureTimings
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


def test_at_zero_the_conservative_reading_starts_only_above_max_agents_times_target() -> None:
    """Default reading: at zero instances the per-instance rules cannot fire, so only the
    start-backstop (queue total > max_agents x target = 100 here) starts the first agent."""
    model = azure(min_agents=0, max_agents=10, target_backlog_per_agent=10)
    assert drive(model, 1800, 0, lambda t: 100) == []
    started = azure(min_agents=0, max_agents=10, target_backlog_per_agent=10)
    assert drive(started, 600, 0, lambda t: 101)[0][1:] == (0, 1)
    assert started.actions["start-backstop"] >= 1


def test_if_azure_divides_by_one_at_zero_backlog_high_starts_above_the_target() -> None:
    by_one = replace(FAST, zero_instance_divisor=1)
    model = azure(by_one, min_agents=0, max_agents=10, target_backlog_per_agent=10)
    assert drive(model, 600, 0, lambda t: 11)[0][1:] == (0, 1)
    assert model.actions["backlog-high"] >= 1
    assert drive(azure(by_one, min_agents=0, max_agents=10, target_backlog_per_agent=10),
                 1800, 0, lambda t: 10) == []  # fmt: skip


def test_with_min_zero_a_few_waiting_messages_do_not_hold_the_fleet() -> None:
    """No rule fires on a trickle (there is no start-from-zero rule any more), so backlog-low
    steps the fleet down to zero; the messages then wait (docs/azure.md, "Scaling from zero")."""
    model = azure(min_agents=0, max_agents=50, target_backlog_per_agent=10, scale_in_cooldown_seconds=60)
    assert drive(model, 1800, 3, lambda t: 1)[-1][2] == 0


def test_metrics_arrive_minutes_late() -> None:
    config = fleet(min_agents=1, max_agents=10)
    model = AzureModel(config, ScalingPolicy.from_config(config))
    first = drive(model, 900, 1, lambda t: 15)[0]
    assert first[0] >= AzureTimings().metric_delay_seconds + 60
