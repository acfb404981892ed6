"""Scale-in on GKE (issue 10): the agent may mark its own pod busy, and nothing else; the drain fits
what the cluster autoscaler allows; the backlog query always holds a sample, and a lost metric
never pulls a busy fleet down."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from agentfleet.agent import contract
from agentfleet.components.problems import ConfigError
from agentfleet.components.validation import load_fleet_config
from tests.infra.gcp_helpers import gcp_synth, manifest
from tests.infra.helpers import BASE_FLEET, deep_merge

KUBERNETES_VERSION = "1.33.0"


def _role(s):
    return s.one("kubernetes:rbac.authorization.k8s.io/v1:Role")


def test_agent_role_allows_patching_pods_in_its_namespace_and_nothing_else() -> None:
    s = gcp_synth()
    role = _role(s).inputs
    namespace = s.one("kubernetes:core/v1:Namespace").inputs["metadata"]["name"]
    assert role["metadata"]["namespace"] == namespace
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}]
    # No cluster-wide grant exists at all.
    assert s.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole") == []
    assert s.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding") == []


def test_role_is_bound_to_the_agents_service_account_only() -> None:
    s = gcp_synth()
    binding = s.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").inputs
    ksa = s.one("kubernetes:core/v1:ServiceAccount").inputs["metadata"]
    role = _role(s).inputs["metadata"]
    assert binding["metadata"]["namespace"] == ksa["namespace"] == role["namespace"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": ksa["name"], "namespace": ksa["namespace"]}
    ]
    pod = s.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == ksa["name"]


def test_rbac_objects_are_valid_kubernetes() -> None:
    s = gcp_synth()
    for token in (
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    ):
        kubernetes_validate.validate(manifest(s.one(token)), KUBERNETES_VERSION, strict=True)


def test_deployment_starts_after_the_agent_may_patch_its_pod() -> None:
    s = gcp_synth()
    deployment = s.one("kubernetes:apps/v1:Deployment")
    assert s.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").urn in deployment.depends_on


def test_pod_learns_its_name_namespace_and_protection_from_the_environment() -> None:
    container = (
        gcp_synth().one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    )
    env = {e["name"]: e for e in container["env"]}
    assert env[contract.PROTECTION]["value"] == "kubernetes-pod"
    assert env[contract.POD_NAME]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env[contract.POD_NAMESPACE]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def _error(fleet: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load_fleet_config("gcp", deep_merge(BASE_FLEET, fleet))
    return str(caught.value)


def test_drain_timeout_is_capped_to_what_the_cluster_autoscaler_waits() -> None:
    assert _error({"agent": {"drain_timeout_seconds": 571}}) == (
        "agentfleet: fleet.agent.drain_timeout_seconds=571 must be <= 570 on GCP (GKE's cluster autoscaler "
        "waits at most 600 s for a pod to stop when it removes a node; the pod's grace period is the drain "
        "timeout + 30 s)"
    )
    load_fleet_config("gcp", deep_merge(BASE_FLEET, {"agent": {"drain_timeout_seconds": 570}}))


def test_grace_period_of_the_longest_allowed_drain_fits_the_autoscaler() -> None:
    pod = gcp_synth({"agent": {"drain_timeout_seconds": 570}}).one("kubernetes:apps/v1:Deployment")
    assert pod.inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] <= 600


def _trigger(fleet: dict | None = None) -> dict:
    return gcp_synth(fleet).one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]["triggers"][0]


def test_backlog_window_always_holds_a_published_sample() -> None:
    # Pub/Sub's num_undelivered_messages: "Sampled every 60 seconds. After sampling, data is not
    # visible for up to 120 seconds." The newest visible sample can be 180 s old when KEDA polls.
    query = _trigger()["metadata"]["query"]
    window = re.search(r"\[(\d+)s\]\)\)$", query)
    assert window, query
    assert int(window.group(1)) >= 60 + 120 + 30  # + one KEDA polling interval


def test_an_empty_query_is_an_error_and_the_fallback_keeps_the_fleet() -> None:
    s = gcp_synth({"scaling": {"min_agents": 2, "max_agents": 9}})
    spec = s.one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
    # An empty result no longer reads as 0 (which scaled a busy fleet to zero); it is a scaler error.
    assert spec["triggers"][0]["metadata"]["ignoreNullValues"] == "false"
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 2, "behavior": "currentReplicasIfHigher"}
    # KEDA: fallback "only supports scalers whose target is an AverageValue metric".
    assert spec["triggers"][0]["metricType"] == "AverageValue"


def test_fallback_at_scale_to_zero_holds_the_current_size() -> None:
    fallback = gcp_synth().one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]["fallback"]
    assert fallback["replicas"] == 0 and fallback["behavior"] == "currentReplicasIfHigher"
