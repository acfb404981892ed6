"""The agents' Deployment on GKE: the environment contract, probes, shutdown, and who owns replicas."""

from __future__ import annotations

from agentfleet.agent import contract
from agentfleet.providers.gcp.mocks import REDIS_HOST, REDIS_PORT, dns_endpoint
from tests.infra.gcp_helpers import PROJECT, REGION, container_of, env_of, gcp_synth

FLEET = {
    "agent": {"port": 9090, "drain_timeout_seconds": 45, "concurrency": 4, "env": {"LOG_LEVEL": "debug"}},
    "scaling": {"warmup_seconds": 125},
}


def test_probes_use_the_configured_port_and_the_runtime_paths() -> None:
    c = container_of(gcp_synth(FLEET).one("kubernetes:apps/v1:Deployment"))
    assert c["ports"] == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 9090}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 9090}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": 9090}


def test_startup_probe_covers_the_warmup() -> None:
    startup = container_of(gcp_synth(FLEET).one("kubernetes:apps/v1:Deployment"))["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 125


def test_grace_period_covers_the_drain_timeout() -> None:
    pod = gcp_synth(FLEET).one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 45 + 30


def test_environment_contract() -> None:
    s = gcp_synth(FLEET)
    env = env_of(s.one("kubernetes:apps/v1:Deployment"))
    assert env[contract.BACKEND] == "pubsub"
    assert (
        env[contract.QUEUE]
        == s.named("moodring-agents").id
        == f"projects/{PROJECT}/subscriptions/moodring-agents"
    )
    assert env[contract.DEAD_LETTER_QUEUE] == s.named("moodring-dead-letter").id
    assert env[contract.STATE] == s.outputs["state_table"] == "moodring-state"
    assert env[contract.BUCKET] == s.one("gcp:storage/bucket:Bucket").outputs["name"]
    assert env[contract.LIFECYCLE] == "none"
    assert env[contract.REGION] == PROJECT
    assert env[contract.PORT] == "9090"
    assert env[contract.CONCURRENCY] == "4"
    assert env[contract.DRAIN_TIMEOUT] == "45"
    assert env[contract.WARMUP] == "125"
    assert env[contract.HANDLER] == "moodring.agent:handle"
    assert env["LOG_LEVEL"] == "debug"
    assert contract.CACHE not in env


def test_cache_url_points_at_memorystore_when_the_fleet_has_a_cache() -> None:
    s = gcp_synth({"state": {"cache": True}})
    cache = s.one("gcp:redis/instance:Instance")
    assert cache.inputs["authorizedNetwork"] == f"projects/{PROJECT}/global/networks/default"
    assert (
        env_of(s.one("kubernetes:apps/v1:Deployment"))[contract.CACHE] == f"redis://{REDIS_HOST}:{REDIS_PORT}"
    )


def test_rerunning_pulumi_up_does_not_reset_the_replica_count() -> None:
    deployment = gcp_synth().one("kubernetes:apps/v1:Deployment")
    assert "replicas" not in deployment.inputs["spec"]
    assert "spec.replicas" in deployment.ignore_changes


def test_agents_run_as_non_root_with_requests_and_limits() -> None:
    d = gcp_synth().one("kubernetes:apps/v1:Deployment")
    pod = d.inputs["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    c = container_of(d)
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert set(c["resources"]) == {"requests", "limits"}


def test_agents_land_on_the_fleets_node_pool() -> None:
    s = gcp_synth()
    pod = s.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    pool = s.named("moodring-agent-pool")
    assert pod["nodeSelector"] == pool.inputs["nodeConfig"]["labels"]
    taint = pool.inputs["nodeConfig"]["taints"][0]
    assert {"key": taint["key"], "value": taint["value"], "effect": "NoSchedule", "operator": "Equal"} in pod[
        "tolerations"
    ]


def test_disruption_budget_selects_the_agent_pods() -> None:
    s = gcp_synth()
    pdb = s.one("kubernetes:policy/v1:PodDisruptionBudget")
    labels = s.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["metadata"]["labels"]
    assert pdb.inputs["spec"]["selector"]["matchLabels"] == labels
    assert pdb.inputs["spec"]["maxUnavailable"] == 1


def test_kubernetes_provider_is_bound_to_the_fleets_cluster_and_objects_stay_in_its_namespace() -> None:
    s = gcp_synth()
    provider = s.one("pulumi:providers:kubernetes")
    kubeconfig = provider.inputs["kubeconfig"]
    assert f"server: https://{dns_endpoint('moodring', REGION)}" in kubeconfig
    assert "command: gke-gcloud-auth-plugin" in kubeconfig
    k8s_objects = [r for r in s.resources if r.type.startswith("kubernetes:")]
    assert len(k8s_objects) >= 7
    # Every Kubernetes object is created in the namespace this program made, or is the KEDA install.
    namespace = s.one("kubernetes:core/v1:Namespace").inputs["metadata"]["name"]
    for r in k8s_objects:
        if r.type in ("kubernetes:core/v1:Namespace", "kubernetes:helm.sh/v3:Release"):
            continue
        assert r.inputs["metadata"]["namespace"] == namespace, r.name
