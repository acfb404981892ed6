"""The GCP scaling policy: KEDA scales the Deployment on THIS subscription's backlog per pod."""

from __future__ import annotations

import pytest

from agentfleet.providers.gcp.scaling import BACKLOG_METRIC, KEDA_CHART_VERSION
from agentfleet.providers.gcp.sizing import agent_pool_bounds, node_bounds
from tests.infra.gcp_helpers import PROJECT, gcp_synth

FLEET = {
    "scaling": {
        "min_agents": 0,
        "max_agents": 40,
        "target_backlog_per_agent": 25,
        "scale_in_cooldown_seconds": 900,
    }
}


def _scaled_object(fleet: dict | None = None) -> dict:
    return gcp_synth(fleet).one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs


def test_autoscaler_targets_the_agent_deployment() -> None:
    s = gcp_synth(FLEET)
    deployment = s.one("kubernetes:apps/v1:Deployment").inputs["metadata"]
    so = s.one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs
    assert so["metadata"]["namespace"] == deployment["namespace"]
    assert so["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["name"],
    }


def test_autoscaler_reads_this_subscriptions_undelivered_messages() -> None:
    s = gcp_synth(FLEET)
    subscription = s.named("moodring-agents").outputs["name"]
    trigger = s.one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus"
    meta = trigger["metadata"]
    assert (
        meta["serverAddress"]
        == f"https://monitoring.googleapis.com/v1/projects/{PROJECT}/location/global/prometheus"
    )
    assert f'"__name__"="{BACKLOG_METRIC}"' in meta["query"]
    assert f'"subscription_id"="{subscription}"' in meta["query"]
    assert f'"project_id"="{PROJECT}"' in meta["query"]


def test_target_is_backlog_per_agent() -> None:
    trigger = _scaled_object(FLEET)["spec"]["triggers"][0]
    assert trigger["metricType"] == "AverageValue"
    assert trigger["metadata"]["threshold"] == "25"


def test_bounds_and_scale_down_stabilisation_come_from_the_config() -> None:
    spec = _scaled_object(FLEET)["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 40)
    assert (
        spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"][
            "stabilizationWindowSeconds"
        ]
        == 900
    )
    assert spec["cooldownPeriod"] == 900


def test_scale_up_jumps_to_the_backlog_then_waits_the_scale_out_cooldown() -> None:
    spec = _scaled_object({**FLEET, "scaling": {**FLEET["scaling"], "warmup_seconds": 45}})["spec"]
    scale_up = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]
    assert scale_up["stabilizationWindowSeconds"] == 0
    assert scale_up["policies"] == [{"type": "Pods", "value": 40, "periodSeconds": 45}]


def test_scales_from_zero_on_the_first_waiting_message() -> None:
    spec = _scaled_object(FLEET)["spec"]
    assert spec["minReplicaCount"] == 0
    # KEDA activates when the metric is above activationThreshold: one message is enough.
    assert spec["triggers"][0]["metadata"]["activationThreshold"] == "0"


def test_min_agents_above_zero_is_kept() -> None:
    spec = _scaled_object({"scaling": {"min_agents": 3, "max_agents": 9}})["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (3, 9)


def test_trigger_authenticates_with_gcp_workload_identity() -> None:
    s = gcp_synth(FLEET)
    auth = s.one("kubernetes:keda.sh/v1alpha1:TriggerAuthentication").inputs
    trigger = s.one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]["triggers"][0]
    assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
    assert auth["spec"] == {"podIdentity": {"provider": "gcp"}}


def test_one_metrics_server_keda_installed_by_the_program_and_no_deprecated_scaler() -> None:
    s = gcp_synth(FLEET)
    release = s.one("kubernetes:helm.sh/v3:Release").inputs
    assert (release["chart"], release["version"]) == ("keda", KEDA_CHART_VERSION)
    assert release["repositoryOpts"]["repo"] == "https://kedacore.github.io/charts"
    assert s.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler") == []
    types = {
        t["type"]
        for so in s.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
        for t in so.inputs["spec"]["triggers"]
    }
    assert types.isdisjoint({"gcp-pubsub", "gcp-stackdriver"})


def test_keda_is_installed_after_the_nodes_it_runs_on_exist() -> None:
    s = gcp_synth(FLEET)
    release = s.one("kubernetes:helm.sh/v3:Release")
    system_pool = s.named("moodring-system-pool")
    assert system_pool.urn in release.depends_on


def test_node_pool_bounds_follow_the_fleet_size() -> None:
    s = gcp_synth({**FLEET, "gcp": {"machine_type": "e2-standard-4"}})
    pool = s.named("moodring-agent-pool")
    low, high = agent_pool_bounds(0, 40, "e2-standard-4")
    assert pool.inputs["autoscaling"]["totalMinNodeCount"] == low == 0
    assert pool.inputs["autoscaling"]["totalMaxNodeCount"] == high
    assert 1 < high < 40
    assert pool.inputs["nodeConfig"]["machineType"] == "e2-standard-4"
    assert pool.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}


def test_spot_nodes_only_when_asked() -> None:
    assert (
        gcp_synth({"compute": {"spot": True}}).named("moodring-agent-pool").inputs["nodeConfig"]["spot"]
        is True
    )
    assert gcp_synth().named("moodring-agent-pool").inputs["nodeConfig"]["spot"] is False
    # The system pool that hosts KEDA is never Spot.
    assert (
        gcp_synth({"compute": {"spot": True}}).named("moodring-system-pool").inputs["nodeConfig"]["spot"]
        is False
    )


@pytest.mark.parametrize(
    ("machine_type", "per_node"),
    [
        ("e2-standard-2", 6),
        ("e2-standard-4", 14),
        ("n1-standard-1", 2),
        ("e2-small", 2),
        ("unknown-shape", 1),
    ],
)
def test_pods_per_node_after_gke_reservations(machine_type: str, per_node: int) -> None:
    from agentfleet.providers.gcp.sizing import pods_per_node

    assert pods_per_node(machine_type) == per_node
    assert node_bounds(1, 12, machine_type) == (1, -(-12 // per_node))


def test_preview_synthesis_registers_the_same_tree() -> None:
    real = gcp_synth(FLEET)
    preview = gcp_synth(FLEET, preview=True)
    assert sorted((r.type, r.name) for r in preview.resources) == sorted(
        (r.type, r.name) for r in real.resources
    )
