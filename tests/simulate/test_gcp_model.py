"""The GKE model against KEDA's and the HPA's documented rules."""

from __future__ import annotations

from dataclasses import replace

from agentfleet.components.policy import ScalingPolicy
from agentfleet.providers.gcp.settings import SAMPLE_RANGE_SECONDS
from agentfleet.providers.gcp.simulation import GcpTimings, GkeModel, HpaBehavior
from tests.simulate.conftest import drive, fleet

FAST = replace(GcpTimings(), metric_delay_seconds=0.0)


def gke(behavior: HpaBehavior | None = None, timings: GcpTimings = FAST, **scaling: int) -> GkeModel:
    config = fleet(**scaling)
    policy = ScalingPolicy.from_config(config)
    return GkeModel(config, policy, timings, behavior)


def test_default_hpa_scales_up_at_most_max_100_percent_or_4_pods_per_15_seconds() -> None:
    model = gke(HpaBehavior.kubernetes_default(), min_agents=1, max_agents=100, target_backlog_per_agent=1)
    changes = drive(model, 200, 1, lambda t: 10_000)
    steps = [(after, t) for t, _, after in changes]
    assert [a for a, _ in steps[:4]] == [5, 10, 20, 40]  # +4 pods, then +100 % each time
    gaps = [b[1] - a[1] for a, b in zip(steps, steps[1:], strict=False)]
    assert all(g >= 15 for g in gaps)


def test_scale_down_waits_for_the_300_second_stabilisation_window() -> None:
    model = gke(HpaBehavior.kubernetes_default(), min_agents=1, max_agents=100, target_backlog_per_agent=10)
    changes = drive(model, 1200, 1, lambda t: 200 if t < 300 else 10)
    up_at = max(t for t, before, after in changes if after > before)
    down = [t for t, before, after in changes if after < before]
    assert down and down[0] >= 300 + 300 - 60  # the last high recommendation (sample at <= 300) + 300 s
    assert down[0] - up_at >= 300


def test_within_10_percent_tolerance_nothing_changes() -> None:
    model = gke(HpaBehavior.kubernetes_default(), min_agents=4, max_agents=100, target_backlog_per_agent=10)
    assert drive(model, 900, 4, lambda t: 43) == []  # 1.075 x target


def test_keda_activates_at_zero_and_hands_over_to_the_hpa() -> None:
    model = gke(min_agents=0, max_agents=10, target_backlog_per_agent=10)
    changes = drive(model, 400, 0, lambda t: 55)
    assert changes[0][1:] == (0, 1)
    assert changes[1][2] == 6
    assert changes[1][0] > changes[0][0]


def test_keda_scales_to_zero_after_the_cooldown_without_activity() -> None:
    model = gke(min_agents=0, max_agents=10, target_backlog_per_agent=10, scale_in_cooldown_seconds=300)
    changes = drive(model, 2000, 0, lambda t: 20 if t < 200 else 0)
    to_zero = [t for t, _, after in changes if after == 0]
    assert to_zero and to_zero[0] >= 200 + 300


def test_pods_that_do_not_fit_wait_for_a_new_node() -> None:
    import numpy as np

    from tests.simulate.conftest import view

    model = gke(min_agents=0, max_agents=50)
    rng = np.random.default_rng(1)
    boots = model.boot_seconds(view(0.0, 0, 100), rng, model.per_node + 1)
    assert boots[-1] >= FAST.ca_scan_seconds + 0.5 * FAST.node_boot_median_seconds


def test_configured_behavior_jumps_in_one_step_where_the_default_takes_four() -> None:
    configured = gke(min_agents=1, max_agents=30, target_backlog_per_agent=10)
    assert [after for _, _, after in drive(configured, 400, 1, lambda t: 250)] == [25]
    default = gke(HpaBehavior.kubernetes_default(), min_agents=1, max_agents=30, target_backlog_per_agent=10)
    assert [after for _, _, after in drive(default, 400, 1, lambda t: 250)] == [5, 10, 20, 25]


def test_at_the_documented_120_second_delay_the_240_second_range_still_scales_out() -> None:
    """Pub/Sub data "is not visible for up to 120 seconds": the old 2-minute range then held no
    readable sample and the fleet never scaled out; the configured 240 s range always holds one."""
    late = replace(GcpTimings(), metric_delay_seconds=120.0)
    assert late.query_range_seconds == SAMPLE_RANGE_SECONDS == 240
    model = gke(timings=late, min_agents=1, max_agents=20, target_backlog_per_agent=10)
    assert [after for _, _, after in drive(model, 600, 1, lambda t: 50)] == [5]
    old_range = gke(timings=replace(late, query_range_seconds=120.0), min_agents=1, max_agents=20)
    assert drive(old_range, 600, 1, lambda t: 50) == []


def test_a_missing_metric_holds_the_fleet_instead_of_reading_zero() -> None:
    """An empty answer is KEDA's error: the fallback (currentReplicasIfHigher) keeps the current
    replicas, where reading it as 0 would scale a busy fleet to zero after the cooldown."""
    missing = replace(FAST, metric_delay_seconds=FAST.query_range_seconds + 2 * FAST.metric_period_seconds)
    model = gke(timings=missing, min_agents=0, max_agents=10, scale_in_cooldown_seconds=300)
    assert drive(model, 1800, 3, lambda t: 0) == []
    assert model.actions["metric-missing"] > 0


def test_pod_deletion_cost_ranks_busy_pods_last_but_does_not_protect_them() -> None:
    assert gke(min_agents=0, max_agents=10).lifecycle.protects_busy_agents is False
