"""The cloud-neutral scaling policy (components/policy.py)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agentfleet.components.policy import (
    SCALE_OUT_COOLDOWN_SECONDS,
    SHUTDOWN_MARGIN_SECONDS,
    ScalingPolicy,
)
from agentfleet.components.validation import parse_fleet
from tests.infra.helpers import BASE_FLEET, deep_merge


def policy(**scaling: Any) -> ScalingPolicy:
    agent = scaling.pop("agent", {})
    return ScalingPolicy.from_config(
        parse_fleet(deep_merge(BASE_FLEET, {"scaling": scaling, "agent": agent}))
    )


policies = st.builds(
    lambda lo, extra, target, warmup, cooldown: policy(
        min_agents=lo,
        max_agents=max(lo, 1) + extra,
        target_backlog_per_agent=target,
        warmup_seconds=warmup,
        scale_in_cooldown_seconds=cooldown,
    ),
    st.integers(0, 20),
    st.integers(0, 50),
    st.integers(1, 100),
    st.integers(0, 600),
    st.integers(0, 900),
)
counts = st.integers(0, 100_000)


def test_numbers_come_from_the_config() -> None:
    p = policy(
        min_agents=1,
        max_agents=30,
        target_backlog_per_agent=7,
        warmup_seconds=45,
        scale_in_cooldown_seconds=120,
        agent={"drain_timeout_seconds": 200, "concurrency": 4},
    )
    assert (p.min_agents, p.max_agents, p.target_backlog_per_agent, p.concurrency) == (1, 30, 7, 4)
    assert p.shutdown_grace_seconds == 200 + SHUTDOWN_MARGIN_SECONDS
    assert p.health_check_grace_seconds == 45
    assert p.scale_in_cooldown_seconds == 120
    assert p.scale_out_cooldown_seconds == min(SCALE_OUT_COOLDOWN_SECONDS, 45)
    assert not p.scales_to_zero


def test_scale_out_cooldown_is_never_zero_even_without_warmup() -> None:
    assert policy(warmup_seconds=0).scale_out_cooldown_seconds == 1


def test_empty_queue_means_min_agents() -> None:
    assert policy(min_agents=0).desired_agents(0, 0) == 0
    assert policy(min_agents=2, max_agents=5).desired_agents(0, 0) == 2


def test_in_flight_work_keeps_busy_agents() -> None:
    assert policy(target_backlog_per_agent=10).desired_agents(waiting=0, in_flight=25) == 3


def test_backlog_per_agent_has_no_value_at_zero_agents() -> None:
    p = policy()
    assert p.backlog_per_agent(50, 0, 0) is None
    assert p.backlog_per_agent(30, 10, 4) == 10.0


@given(policies, counts, counts)
def test_desired_agents_stay_within_min_and_max(p: ScalingPolicy, waiting: int, in_flight: int) -> None:
    assert p.min_agents <= p.desired_agents(waiting, in_flight) <= p.max_agents


@given(policies, counts, counts)
def test_desired_agents_is_backlog_over_target_rounded_up(
    p: ScalingPolicy, waiting: int, in_flight: int
) -> None:
    backlog = waiting + in_flight
    expected = max(p.min_agents, min(p.max_agents, math.ceil(backlog / p.target_backlog_per_agent)))
    assert p.desired_agents(waiting, in_flight) == expected


@given(policies, counts, counts, st.integers(1, 1000))
def test_more_backlog_never_means_fewer_agents(
    p: ScalingPolicy, waiting: int, in_flight: int, more: int
) -> None:
    assert p.desired_agents(waiting + more, in_flight) >= p.desired_agents(waiting, in_flight)


@given(policies, st.integers(1, 100_000))
def test_waiting_work_always_gets_an_agent(p: ScalingPolicy, waiting: int) -> None:
    assert p.desired_agents(waiting, 0) >= 1


@given(policies, counts, counts)
def test_at_the_desired_count_backlog_per_agent_meets_the_target_unless_capped(
    p: ScalingPolicy, waiting: int, in_flight: int
) -> None:
    desired = p.desired_agents(waiting, in_flight)
    ratio = p.backlog_per_agent(waiting, in_flight, desired)
    if desired < p.max_agents and desired > 0:
        assert ratio is not None and ratio <= p.target_backlog_per_agent
