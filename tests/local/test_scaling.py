"""The local fleet's scaling decision (agentfleet/local/scaling.py): the policy run like the clouds run it."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from agentfleet.components.policy import ScalingPolicy
from agentfleet.local.scaling import LocalAutoscaler
from tests.infra.test_policy import counts, policies, policy


def test_autoscaler_starts_agents_at_once_from_zero() -> None:
    scaler = LocalAutoscaler(policy(target_backlog_per_agent=10, max_agents=10))
    assert scaler.decide(now=0, waiting=35, in_flight=0, current=0) == 4


def test_autoscaler_respects_the_scale_out_cooldown() -> None:
    p = policy(target_backlog_per_agent=10, max_agents=20, warmup_seconds=90)
    scaler = LocalAutoscaler(p)
    assert scaler.decide(now=0, waiting=20, in_flight=0, current=1) == 2
    assert scaler.decide(now=p.scale_out_cooldown_seconds - 1, waiting=80, in_flight=0, current=2) == 2
    assert scaler.decide(now=p.scale_out_cooldown_seconds, waiting=80, in_flight=0, current=2) == 8


def test_autoscaler_scales_in_only_after_the_backlog_stayed_low_for_the_cooldown() -> None:
    scaler = LocalAutoscaler(policy(target_backlog_per_agent=10, scale_in_cooldown_seconds=300))
    assert scaler.decide(now=0, waiting=50, in_flight=0, current=0) == 5
    assert scaler.decide(now=100, waiting=0, in_flight=10, current=5) == 5  # low since 100
    assert scaler.decide(now=399, waiting=0, in_flight=10, current=5) == 5
    assert scaler.decide(now=400, waiting=0, in_flight=10, current=5) == 1


def test_a_burst_during_the_quiet_period_restarts_the_scale_in_clock() -> None:
    scaler = LocalAutoscaler(policy(target_backlog_per_agent=10, scale_in_cooldown_seconds=300))
    scaler.decide(now=0, waiting=50, in_flight=0, current=0)
    scaler.decide(now=100, waiting=0, in_flight=0, current=5)
    assert scaler.decide(now=200, waiting=50, in_flight=0, current=5) == 5  # needed again: not low
    assert scaler.decide(now=450, waiting=0, in_flight=0, current=5) == 5  # low only since 450
    assert scaler.decide(now=750, waiting=0, in_flight=0, current=5) == 0


steps = st.lists(st.tuples(st.integers(0, 400), counts, counts), min_size=1, max_size=40)


@settings(max_examples=200)
@given(policies, steps)
def test_autoscaler_never_leaves_min_max_and_never_scales_against_the_backlog(
    p: ScalingPolicy, sequence: list[tuple[int, int, int]]
) -> None:
    scaler = LocalAutoscaler(p)
    now, current = 0, 0
    for dt, waiting, in_flight in sequence:
        now += dt
        decided = scaler.decide(now, waiting, in_flight, current)
        desired = p.desired_agents(waiting, in_flight)
        if current >= p.min_agents:
            assert p.min_agents <= decided <= p.max_agents
        # It moves toward what the backlog asks for, never past it and never away from it.
        assert min(current, desired) <= decided <= max(current, desired)
        current = decided


@given(policies, steps)
def test_autoscaler_never_scales_in_sooner_than_the_cooldown(
    p: ScalingPolicy, sequence: list[tuple[int, int, int]]
) -> None:
    scaler = LocalAutoscaler(p)
    now, current, last_change = 0, 0, -math.inf
    for dt, waiting, in_flight in sequence:
        now += dt
        decided = scaler.decide(now, waiting, in_flight, current)
        if decided < current:
            assert now - last_change >= p.scale_in_cooldown_seconds
        if decided != current:
            last_change = now
        current = decided
