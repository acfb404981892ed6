"""Workload Identity and least privilege on GCP: which accounts are joined, and what they may touch."""

from __future__ import annotations

from tests.infra.gcp_helpers import PROJECT, gcp_synth

AGENT_EMAIL = f"moodring-agent@{PROJECT}.iam.gserviceaccount.com"
AGENT_MEMBER = f"serviceAccount:{AGENT_EMAIL}"


def test_workload_identity_binding_joins_the_agent_ksa_and_the_agent_gsa() -> None:
    s = gcp_synth()
    gsa = s.named("moodring-agent")
    ksa = s.one("kubernetes:core/v1:ServiceAccount")
    namespace = s.one("kubernetes:core/v1:Namespace")
    binding = s.named("moodring-agent-workload-identity")
    assert (
        binding.inputs["serviceAccountId"]
        == gsa.outputs["name"]
        == f"projects/{PROJECT}/serviceAccounts/{AGENT_EMAIL}"
    )
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    ns, name = namespace.inputs["metadata"]["name"], ksa.inputs["metadata"]["name"]
    assert ksa.inputs["metadata"]["namespace"] == ns
    assert binding.inputs["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[{ns}/{name}]"


def test_ksa_is_annotated_with_the_gsa_and_the_pods_run_as_that_ksa() -> None:
    s = gcp_synth()
    ksa = s.one("kubernetes:core/v1:ServiceAccount")
    assert (
        ksa.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        == s.named("moodring-agent").outputs["email"]
    )
    pod = s.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == ksa.inputs["metadata"]["name"]


def test_agent_roles_are_granted_on_this_fleets_resources_only() -> None:
    s = gcp_synth()
    grants = [
        r for r in s.resources if r.type.endswith("IAMMember") and r.inputs.get("member") == AGENT_MEMBER
    ]
    found = {(r.type.split(":")[-1], r.inputs["role"]): r for r in grants}
    assert set(found) == {
        ("SubscriptionIAMMember", "roles/pubsub.subscriber"),
        ("SubscriptionIAMMember", "roles/pubsub.viewer"),
        ("TopicIAMMember", "roles/pubsub.publisher"),
        ("BucketIAMMember", "roles/storage.objectAdmin"),
        ("IAMMember", "roles/datastore.user"),
    }
    assert (
        found[("SubscriptionIAMMember", "roles/pubsub.subscriber")].inputs["subscription"]
        == "moodring-agents"
    )
    assert found[("TopicIAMMember", "roles/pubsub.publisher")].inputs["topic"] == "moodring-dead-letter"
    bucket = s.one("gcp:storage/bucket:Bucket")
    assert found[("BucketIAMMember", "roles/storage.objectAdmin")].inputs["bucket"] == bucket.outputs["name"]
    # Firestore has no per-collection IAM: the project-level role is conditioned on the one database.
    condition = found[("IAMMember", "roles/datastore.user")].inputs["condition"]
    assert condition["expression"] == f'resource.name == "projects/{PROJECT}/databases/(default)"'


def test_agent_may_read_its_subscription_for_the_readiness_ping() -> None:
    # /ready calls backend.ping() -> subscriptions.get, which roles/pubsub.subscriber lacks
    # (it has only subscriptions.consume and topics.attachSubscription): without the viewer role on
    # the subscription no agent pod ever turns Ready and the Deployment's rollout times out.
    s = gcp_synth()
    viewer = s.named("moodring-agent-viewer")
    assert viewer.type == "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
    assert (viewer.inputs["role"], viewer.inputs["member"]) == ("roles/pubsub.viewer", AGENT_MEMBER)
    assert viewer.inputs["subscription"] == s.named("moodring-agents").outputs["name"]
    assert s.named("moodring-deployment").depends_on.count(viewer.urn) == 1


def test_workload_identity_bindings_wait_for_the_new_clusters_workload_pool() -> None:
    # PROJECT.svc.id.goog exists only once a cluster with Workload Identity does; a binding made
    # before it fails with "Identity Pool does not exist" on the first `pulumi up`.
    s = gcp_synth()
    cluster = s.one("gcp:container/cluster:Cluster")
    for name in ("moodring-agent-workload-identity", "moodring-keda-workload-identity"):
        assert cluster.urn in s.named(name).depends_on, name


def test_workload_identity_bindings_on_an_existing_cluster_need_no_new_cluster() -> None:
    s = gcp_synth({"gcp": {"cluster": "shared-gke"}})
    assert s.of_type("gcp:container/cluster:Cluster") == []
    assert s.named("moodring-agent-workload-identity").inputs["role"] == "roles/iam.workloadIdentityUser"


def test_no_agent_grants_for_state_the_fleet_does_not_have() -> None:
    s = gcp_synth({"state": {"table": False, "bucket": False}})
    roles = {
        r.inputs["role"]
        for r in s.resources
        if r.type.endswith("IAMMember") and r.inputs.get("member") == AGENT_MEMBER
    }
    assert roles == {"roles/pubsub.subscriber", "roles/pubsub.viewer", "roles/pubsub.publisher"}
    assert s.of_type("gcp:storage/bucket:Bucket") == []
    assert s.outputs["state_table"] is None and s.outputs["bucket"] is None


def test_keda_operator_reads_metrics_as_its_own_gsa() -> None:
    s = gcp_synth()
    keda_gsa = s.named("moodring-keda")
    binding = s.named("moodring-keda-workload-identity")
    assert binding.inputs["serviceAccountId"] == keda_gsa.outputs["name"]
    release = s.one("kubernetes:helm.sh/v3:Release")
    assert release.inputs["namespace"] == "keda"
    # The binding names the very account the chart creates for the operator.
    operator = release.inputs["values"]["serviceAccount"]["operator"]["name"]
    assert binding.inputs["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[keda/{operator}]"
    assert release.inputs["values"]["podIdentity"]["gcp"] == {
        "enabled": True,
        "gcpIAMServiceAccount": keda_gsa.outputs["email"],
    }
    viewer = s.named("moodring-keda-monitoring-viewer")
    assert (viewer.inputs["role"], viewer.inputs["member"]) == (
        "roles/monitoring.viewer",
        keda_gsa.outputs["member"],
    )


def test_nodes_run_as_a_minimal_account_not_the_default_compute_one() -> None:
    s = gcp_synth()
    nodes = s.named("moodring-nodes")
    for pool in s.of_type("gcp:container/nodePool:NodePool"):
        assert pool.inputs["nodeConfig"]["serviceAccount"] == nodes.outputs["email"]
        assert pool.inputs["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    role = s.named("moodring-nodes-default-node-role")
    assert (role.inputs["role"], role.inputs["member"]) == (
        "roles/container.defaultNodeServiceAccount",
        nodes.outputs["member"],
    )


def test_workload_identity_token_exchange_api_is_on_before_the_bindings() -> None:
    # Pods impersonate their Google service account through the IAM Service Account Credentials
    # API; while it is off the metadata server answers 403 to every token request.
    s = gcp_synth()
    api = next(
        r
        for r in s.of_type("gcp:projects/service:Service")
        if r.inputs["service"] == "iamcredentials.googleapis.com"
    )
    assert api.inputs["disableOnDestroy"] is False
    for name in ("moodring-agent-workload-identity", "moodring-keda-workload-identity"):
        assert api.urn in s.named(name).depends_on, name


def test_keda_binding_is_not_the_default_name_every_keda_in_the_project_shares() -> None:
    # Workload Identity "identity sameness": a binding for keda/keda-operator would let the KEDA of
    # any cluster in the project act as this fleet's account with project-wide Monitoring Viewer.
    members = {r.inputs["member"] for r in gcp_synth().of_type("gcp:serviceaccount/iAMMember:IAMMember")}
    assert f"serviceAccount:{PROJECT}.svc.id.goog[keda/keda-operator]" not in members
    assert f"serviceAccount:{PROJECT}.svc.id.goog[keda/keda-operator-moodring]" in members
    other = gcp_synth({"name": "ledger"}).named("ledger-keda-workload-identity").inputs["member"]
    assert other == f"serviceAccount:{PROJECT}.svc.id.goog[keda/keda-operator-ledger]"
