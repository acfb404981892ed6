"""The Kubernetes objects the GCP program applies, validated against the Kubernetes schemas."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.infra.gcp_helpers import gcp_synth, manifest

#: GKE's REGULAR channel version line at the time of writing; strict mode rejects unknown fields.
KUBERNETES_VERSION = "1.33.0"
BUILT_IN = {
    "kubernetes:core/v1:Namespace": "Namespace",
    "kubernetes:core/v1:ServiceAccount": "ServiceAccount",
    "kubernetes:apps/v1:Deployment": "Deployment",
    "kubernetes:policy/v1:PodDisruptionBudget": "PodDisruptionBudget",
    "kubernetes:rbac.authorization.k8s.io/v1:Role": "Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": "RoleBinding",
}
FLEETS = [
    {},
    {"state": {"cache": True}, "compute": {"spot": True}, "scaling": {"min_agents": 2}},
    {"agent": {"port": 9000, "drain_timeout_seconds": 570}, "scaling": {"warmup_seconds": 3600}},
]


@pytest.mark.parametrize("fleet", FLEETS, ids=["defaults", "cache-spot-min2", "long-warmup-drain"])
def test_built_in_kinds_are_valid_kubernetes_objects(fleet: dict) -> None:
    s = gcp_synth(fleet)
    seen = set()
    for token, kind in BUILT_IN.items():
        for resource in s.of_type(token):
            body = manifest(resource)
            assert body["kind"] == kind
            kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
            seen.add(kind)
    assert seen == set(BUILT_IN.values())


def test_validator_catches_a_broken_deployment() -> None:
    """The check above has teeth: a probe port as text that is not a port name is rejected."""
    body = manifest(gcp_synth().one("kubernetes:apps/v1:Deployment"))
    body["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = {"not": "a port"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)


def test_keda_objects_use_the_keda_api_and_field_names() -> None:
    s = gcp_synth()
    so = manifest(s.one("kubernetes:keda.sh/v1alpha1:ScaledObject"))
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    assert set(so["spec"]) == {
        "scaleTargetRef",
        "pollingInterval",
        "cooldownPeriod",
        "minReplicaCount",
        "maxReplicaCount",
        "fallback",
        "advanced",
        "triggers",
    }
    # The HPA behaviour KEDA passes through is the autoscaling/v2 one: validate it as such.
    behavior = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-check", "namespace": "moodring"},
        "spec": {
            "scaleTargetRef": so["spec"]["scaleTargetRef"],
            "minReplicas": 1,
            "maxReplicas": so["spec"]["maxReplicaCount"],
            "behavior": behavior,
        },
    }
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
