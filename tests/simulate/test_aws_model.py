"""The AWS model against target tracking's and the from-zero alarm's documented rules."""

from __future__ import annotations

from dataclasses import replace

from agentfleet.components.policy import ScalingPolicy
from agentfleet.providers.aws.settings import FROM_ZERO_STEPS
from agentfleet.providers.aws.simulation import AwsModel, AwsTimings
from tests.simulate.conftest import drive, fleet, view

#: No publication delay, and a queue that was active recently (no wake-up delay).
NO_DELAY = replace(AwsTimings(), metric_delay_seconds=0.0, wake_delay_seconds=0.0)


def aws(timings: AwsTimings = NO_DELAY, **scaling: int) -> AwsModel:
    config = fleet(**scaling)
    return AwsModel(config, ScalingPolicy.from_config(config), timings)


def test_a_3_datapoint_alarm_fires_no_sooner_than_the_third_minute_above_target() -> None:
    model = aws(min_agents=1, max_agents=20, target_backlog_per_agent=10)
    changes = drive(model, 600, 1, lambda t: 50)
    first = changes[0]
    assert first[0] >= 180  # three whole one-minute datapoints above the target
    assert first[0] <= 240  # and it does fire at the next evaluation
    assert first[2] == 5  # ceil(50 / 10)


def test_the_publication_delay_adds_to_the_three_datapoints() -> None:
    model = aws(
        replace(NO_DELAY, metric_delay_seconds=90.0), min_agents=1, max_agents=20, target_backlog_per_agent=10
    )
    first = drive(model, 900, 1, lambda t: 50)[0]
    assert first[0] >= 180 + 90


def test_scale_in_waits_15_datapoints_below_90_percent_of_target() -> None:
    model = aws(min_agents=1, max_agents=20, target_backlog_per_agent=10)
    changes = drive(model, 1500, 5, lambda t: 5)  # 1 per agent: far below the target
    assert changes[0][0] >= 15 * 60 and changes[0][2] == 1


def test_no_scale_in_within_10_percent_below_target() -> None:
    model = aws(min_agents=1, max_agents=20, target_backlog_per_agent=10)
    assert drive(model, 3600, 5, lambda t: 47) == []  # 9.4 per agent: above 0.9 x target


def test_from_zero_alarm_needs_2_of_3_datapoints_then_adds_the_step() -> None:
    model = aws(min_agents=0, max_agents=20, target_backlog_per_agent=10)
    first = drive(model, 300, 0, lambda t: 25)[0]
    assert 120 <= first[0] <= 180  # the second one-minute datapoint, then the next evaluation
    assert first[1:] == (0, 3)  # ceil(25 / 10) agents added


def test_one_minute_of_work_at_zero_is_not_enough_for_the_from_zero_alarm() -> None:
    model = aws(min_agents=0, max_agents=20, target_backlog_per_agent=10)
    assert drive(model, 600, 0, lambda t: 25 if t < 60 else 0) == []


def test_from_zero_starts_at_most_from_zero_steps_agents() -> None:
    model = aws(min_agents=0, max_agents=50, target_backlog_per_agent=1)
    assert drive(model, 300, 0, lambda t: 500)[0][2] == FROM_ZERO_STEPS


def test_from_zero_adds_once_per_step_within_its_warm_up_and_a_higher_step_adds_the_difference() -> None:
    # The alarm stays in ALARM while the minutes before the first step are in its window (and a
    # publication delay would hold it longer); repeated invocations add nothing more.
    model = aws(replace(NO_DELAY, metric_delay_seconds=60.0), min_agents=0, max_agents=20,
                target_backlog_per_agent=10)  # fmt: skip
    changes = drive(model, 600, 0, lambda t: 5)
    assert [c[1:] for c in changes] == [(0, 1)]
    grows = aws(min_agents=0, max_agents=20, target_backlog_per_agent=10)
    changes = drive(grows, 400, 0, lambda t: 5 if t < 120 else 25)
    assert [c[1:] for c in changes[:2]] == [(0, 1), (1, 3)]


def test_from_zero_reads_desired_capacity_and_never_lowers_it() -> None:
    """Agents still booting (desired 5, none in service) keep the alarm OK: the old alarm on
    in-service agents set an exact capacity of ceil(12 / 10) = 2 here, cancelling three boots."""
    model = aws(min_agents=0, max_agents=20, target_backlog_per_agent=10)
    for t in range(0, 600):
        assert model.step(view(float(t), 5, 12, ready=0)) == 5


def test_an_inactive_queue_wakes_up_to_15_minutes_late() -> None:
    idle = replace(NO_DELAY, wake_delay_seconds=900.0, idle_before_seconds=7 * 3600.0)
    model = aws(idle, min_agents=0, max_agents=10, target_backlog_per_agent=10)
    first = drive(model, 3000, 0, lambda t: 5)[0]
    assert first[0] >= 900
    recent = aws(
        replace(idle, idle_before_seconds=3600.0), min_agents=0, max_agents=10, target_backlog_per_agent=10
    )
    assert drive(recent, 3000, 0, lambda t: 5)[0][0] < 900
