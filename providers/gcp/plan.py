"""What `agentfleet plan` shows for each GCP and Kubernetes resource type: what a reviewer checks.

Paths are dotted input keys as the providers record them (camelCase for GCP, the manifest's own
keys for Kubernetes); `[*]` maps over a list. The Kubernetes provider lists nothing: its only
input is the generated kubeconfig.
"""

from __future__ import annotations

_POD = "spec.template.spec"
_TRIGGER = "spec.triggers[*].metadata"

KEY_SETTINGS: dict[str, list[str]] = {
    "gcp:projects/service:Service": ["service", "disableOnDestroy"],
    "gcp:pubsub/topic:Topic": ["name"],
    "gcp:pubsub/subscription:Subscription": [
        "name",
        "topic",
        "ackDeadlineSeconds",
        "messageRetentionDuration",
        "retryPolicy.minimumBackoff",
        "retryPolicy.maximumBackoff",
        "deadLetterPolicy.deadLetterTopic",
        "deadLetterPolicy.maxDeliveryAttempts",
        "expirationPolicy.ttl",
    ],
    "gcp:pubsub/topicIAMMember:TopicIAMMember": ["topic", "role", "member"],
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": ["subscription", "role", "member"],
    "gcp:storage/bucket:Bucket": [
        "location",
        "uniformBucketLevelAccess",
        "publicAccessPrevention",
        "forceDestroy",
    ],
    "gcp:storage/bucketIAMMember:BucketIAMMember": ["bucket", "role", "member"],
    "gcp:redis/instance:Instance": ["name", "tier", "memorySizeGb", "authorizedNetwork"],
    "gcp:serviceaccount/account:Account": ["accountId"],
    "gcp:serviceaccount/iAMMember:IAMMember": ["serviceAccountId", "role", "member"],
    "gcp:projects/iAMMember:IAMMember": ["role", "member", "condition.expression"],
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": [
        "location",
        "project",
        "repository",
        "role",
        "member",
    ],
    "gcp:compute/router:Router": ["name", "network", "region"],
    "gcp:compute/routerNat:RouterNat": [
        "name",
        "router",
        "natIpAllocateOption",
        "sourceSubnetworkIpRangesToNat",
    ],
    "gcp:compute/firewall:Firewall": [
        "name",
        "network",
        "sourceRanges",
        "allows[*].ports",
        "targetTags",
    ],
    "gcp:container/cluster:Cluster": [
        "name",
        "location",
        "network",
        "subnetwork",
        "ipAllocationPolicy.clusterSecondaryRangeName",
        "ipAllocationPolicy.servicesSecondaryRangeName",
        "masterAuthorizedNetworksConfig.cidrBlocks[*].cidrBlock",
        "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled",
        "controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic",
        "releaseChannel.channel",
        "workloadIdentityConfig.workloadPool",
        "privateClusterConfig.enablePrivateNodes",
        "privateClusterConfig.masterIpv4CidrBlock",
        "removeDefaultNodePool",
    ],
    "gcp:container/nodePool:NodePool": [
        "name",
        "cluster",
        "nodeConfig.machineType",
        "nodeConfig.spot",
        "initialNodeCount",
        "autoscaling.totalMinNodeCount",
        "autoscaling.totalMaxNodeCount",
        "autoscaling.locationPolicy",
        "nodeConfig.taints[*].value",
        "nodeConfig.tags",
    ],
    "gcp:monitoring/alertPolicy:AlertPolicy": [
        "displayName",
        "conditions[*].conditionThreshold.filter",
        "conditions[*].conditionThreshold.thresholdValue",
    ],
    "pulumi:providers:kubernetes": [],
    "kubernetes:core/v1:Namespace": ["metadata.name"],
    "kubernetes:core/v1:ServiceAccount": ["metadata.namespace", "metadata.name", "metadata.annotations"],
    "kubernetes:apps/v1:Deployment": [
        "metadata.namespace",
        "metadata.name",
        f"{_POD}.containers[*].image",
        f"{_POD}.serviceAccountName",
        f"{_POD}.terminationGracePeriodSeconds",
        f"{_POD}.containers[*].startupProbe.failureThreshold",
        f"{_POD}.nodeSelector",
        "spec.strategy.rollingUpdate.maxSurge",
    ],
    "kubernetes:policy/v1:PodDisruptionBudget": ["metadata.name", "spec.maxUnavailable"],
    "kubernetes:rbac.authorization.k8s.io/v1:Role": ["metadata.namespace", "metadata.name", "rules"],
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": ["metadata.namespace", "roleRef.name", "subjects"],
    "kubernetes:helm.sh/v3:Release": ["chart", "version", "namespace", "repositoryOpts.repo"],
    "kubernetes:keda.sh/v1alpha1:TriggerAuthentication": ["metadata.name", "spec.podIdentity.provider"],
    "kubernetes:keda.sh/v1alpha1:ScaledObject": [
        "spec.scaleTargetRef.name",
        "spec.minReplicaCount",
        "spec.maxReplicaCount",
        "spec.cooldownPeriod",
        "spec.triggers[*].type",
        f"{_TRIGGER}.threshold",
        f"{_TRIGGER}.activationThreshold",
        f"{_TRIGGER}.query",
        "spec.fallback",
    ],
}
