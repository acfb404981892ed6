"""GKE on GCP: a new cluster's security settings, or the user's existing cluster reused."""

from __future__ import annotations

from agentfleet.providers.gcp.mocks import CLUSTER_ENDPOINT
from tests.infra.gcp_helpers import PROJECT, REGION, gcp_synth


def test_new_cluster_has_workload_identity_private_nodes_and_a_release_channel() -> None:
    cluster = gcp_synth().one("gcp:container/cluster:Cluster").inputs
    assert cluster["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["location"] == REGION
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["network"] == "default"


def test_private_nodes_get_egress_through_cloud_nat_on_the_clusters_network() -> None:
    s = gcp_synth({"gcp": {"network": "agents-vpc"}})
    assert s.one("gcp:container/cluster:Cluster").inputs["network"] == "agents-vpc"
    router = s.one("gcp:compute/router:Router")
    assert router.inputs["network"] == "agents-vpc"
    nat = s.one("gcp:compute/routerNat:RouterNat")
    assert nat.inputs["router"] == router.outputs["name"] == "moodring-router"
    assert nat.inputs["region"] == router.inputs["region"] == REGION
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"


def test_node_pools_join_the_new_cluster() -> None:
    s = gcp_synth()
    cluster = s.one("gcp:container/cluster:Cluster")
    for pool in s.of_type("gcp:container/nodePool:NodePool"):
        assert pool.inputs["cluster"] == cluster.outputs["name"]


def test_existing_cluster_is_reused_not_created() -> None:
    s = gcp_synth({"gcp": {"cluster": "shared-gke"}})
    assert s.of_type("gcp:container/cluster:Cluster") == []
    assert s.of_type("gcp:compute/routerNat:RouterNat") == []
    lookups = [a for t, a in s.invokes if t == "gcp:container/getCluster:getCluster"]
    assert lookups == [{"name": "shared-gke", "location": REGION, "project": PROJECT}]
    pools = s.of_type("gcp:container/nodePool:NodePool")
    assert [(p.inputs["name"], p.inputs["cluster"]) for p in pools] == [("moodring-agents", "shared-gke")]
    kubeconfig = s.one("pulumi:providers:kubernetes").inputs["kubeconfig"]
    assert f"server: https://{CLUSTER_ENDPOINT}" in kubeconfig
    assert s.outputs["cluster"] == "shared-gke"


def test_required_apis_are_enabled_and_left_on_at_destroy() -> None:
    services = gcp_synth().of_type("gcp:projects/service:Service")
    enabled = {r.inputs["service"] for r in services}
    assert {"pubsub.googleapis.com", "container.googleapis.com", "firestore.googleapis.com"} <= enabled
    assert "redis.googleapis.com" not in enabled
    assert all(r.inputs["disableOnDestroy"] is False for r in services)


def test_bucket_has_uniform_access_and_public_access_prevention() -> None:
    bucket = gcp_synth().one("gcp:storage/bucket:Bucket").inputs
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["location"] == REGION.upper()


def test_compute_and_iam_resources_wait_for_their_apis_on_a_fresh_project() -> None:
    s = gcp_synth()
    compute = s.named("moodring-api-compute")
    iam = s.named("moodring-api-iam")
    for token in ("gcp:compute/router:Router", "gcp:compute/routerNat:RouterNat"):
        assert compute.urn in s.one(token).depends_on, token
    for account in s.of_type("gcp:serviceaccount/account:Account"):
        assert iam.urn in account.depends_on, account.name


def test_system_pool_starts_with_nodes_and_keeps_them_across_updates() -> None:
    # Without an initial count the pool is created empty, and kube-system and KEDA's atomic Helm
    # release wait on a scale-up from zero; initialNodeCount forces replacement, so it is ignored.
    pool = gcp_synth().named("moodring-system-pool")
    assert pool.inputs["initialNodeCount"] == 1
    assert pool.inputs["autoscaling"]["totalMinNodeCount"] == 1
    assert "initialNodeCount" in pool.ignore_changes


def test_private_control_plane_may_reach_kedas_metrics_server_and_webhooks() -> None:
    # GKE's own rule lets a private control plane reach nodes on 443 and 10250 only; the
    # external-metrics APIService (KEDA metrics server, 6443) and KEDA's webhooks (9443) are called
    # on the pods, so without this rule the HPA never gets the backlog metric.
    s = gcp_synth({"gcp": {"network": "agents-vpc"}})
    cluster = s.one("gcp:container/cluster:Cluster")
    rule = s.one("gcp:compute/firewall:Firewall")
    assert rule.inputs["network"] == cluster.inputs["network"] == "agents-vpc"
    assert rule.inputs["direction"] == "INGRESS"
    assert rule.inputs["sourceRanges"] == [cluster.inputs["privateClusterConfig"]["masterIpv4CidrBlock"]]
    assert rule.inputs["allows"] == [{"protocol": "tcp", "ports": ["6443", "9443"]}]
    system = s.named("moodring-system-pool")
    assert rule.inputs["targetTags"] == system.inputs["nodeConfig"]["tags"] == ["agentfleet-moodring-system"]
    assert rule.urn in s.one("kubernetes:helm.sh/v3:Release").depends_on
    assert s.named("moodring-api-compute").urn in rule.depends_on


def test_existing_cluster_gets_no_firewall_rule() -> None:
    assert gcp_synth({"gcp": {"cluster": "shared-gke"}}).of_type("gcp:compute/firewall:Firewall") == []


def test_nodes_may_pull_an_agent_image_from_its_artifact_registry_repository() -> None:
    # The node account's default role has no Artifact Registry read: a private image never pulls.
    image = "europe-west1-docker.pkg.dev/acme-images/agents/moodring-agent:1.4.2"
    s = gcp_synth({"agent": {"image": image}})
    pull = s.named("moodring-nodes-image-pull")
    assert pull.type == "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
    assert (pull.inputs["location"], pull.inputs["project"], pull.inputs["repository"]) == (
        "europe-west1",
        "acme-images",
        "agents",
    )
    assert pull.inputs["role"] == "roles/artifactregistry.reader"
    assert pull.inputs["member"] == s.named("moodring-nodes").outputs["member"]
    assert pull.urn in s.named("moodring-agent-pool").depends_on


def test_public_registry_images_need_no_pull_grant() -> None:
    s = gcp_synth()
    assert s.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember") == []
