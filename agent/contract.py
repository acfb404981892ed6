"""The environment contract between the infrastructure and the runtime (docs/DESIGN.md).

Every provider starts the agent container with these variables; the runtime reads exactly these.
Both sides import the names from here, so a rename is one change, checked by mypy and the tests.
This module must stay dependency-free: it is imported by the Pulumi program and by every agent.
"""

from __future__ import annotations

BACKEND = "AGENTFLEET_BACKEND"  # sqs | servicebus | pubsub | sqlite
QUEUE = "AGENTFLEET_QUEUE"  # SQS URL · Service Bus queue · Pub/Sub subscription path · SQLite file
DEAD_LETTER_QUEUE = "AGENTFLEET_DEAD_LETTER_QUEUE"  # SQS DLQ URL · Pub/Sub DL topic; "" if native
SERVICEBUS_NAMESPACE = "AGENTFLEET_SERVICEBUS_NAMESPACE"  # fully qualified namespace (Azure only)
# DynamoDB table · https://ACCOUNT.table.core.windows.net/TABLE · Firestore collection · SQLite file
STATE = "AGENTFLEET_STATE"
BUCKET = "AGENTFLEET_BUCKET"  # S3 bucket · blob container URL · GCS bucket · local directory
CACHE = "AGENTFLEET_CACHE"  # Redis URL, when the fleet has a cache
HANDLER = "AGENTFLEET_HANDLER"  # module:function
CONCURRENCY = "AGENTFLEET_CONCURRENCY"
DRAIN_TIMEOUT = "AGENTFLEET_DRAIN_TIMEOUT"
VISIBILITY_TIMEOUT = "AGENTFLEET_VISIBILITY_TIMEOUT"
HANDLER_TIMEOUT = "AGENTFLEET_HANDLER_TIMEOUT"  # seconds one handler may run; default 10 x visibility
PORT = "AGENTFLEET_PORT"
# The address the health/metrics server binds: 0.0.0.0 by default (the platform's health check
# and scrapers reach the instance or pod from outside); 127.0.0.1 in the local fleet.
HEALTH_HOST = "AGENTFLEET_HEALTH_HOST"
WARMUP = "AGENTFLEET_WARMUP"
MAX_RECEIVE_COUNT = "AGENTFLEET_MAX_RECEIVE_COUNT"  # deliveries before the runtime dead-letters (SQLite)
LIFECYCLE = "AGENTFLEET_LIFECYCLE"  # aws-asg | azure-scheduled-events | none
LIFECYCLE_HOOK = "AGENTFLEET_LIFECYCLE_HOOK"  # AWS only
GROUP = "AGENTFLEET_GROUP"  # AWS only: Auto Scaling group name
REGION = "AGENTFLEET_REGION"  # AWS region / GCP project for SDK clients that need it
# Busy-agent scale-in protection (docs/DESIGN.md, "Busy agents"): how the agent marks itself
# protected while it holds work. aws-asg: SetInstanceProtection on AGENTFLEET_GROUP for the
# instance IMDS names; azure-vmss: protectFromScaleIn on the VM IMDS names, through ARM with the
# managed identity; kubernetes-pod: pod-deletion-cost + safe-to-evict annotations on the pod
# AGENTFLEET_POD_NAME in AGENTFLEET_POD_NAMESPACE (the downward API); local: the local supervisor
# reads busy/idle from /metrics; none: no protection.
PROTECTION = "AGENTFLEET_PROTECTION"
# JSON object: environment variable name -> secret store reference (AWS Secrets Manager / SSM ARN,
# Key Vault secret URI, Secret Manager name); the agent reads each at start (agent/secrets/).
SECRETS = "AGENTFLEET_SECRETS"
# Seconds between re-reads of those secrets, so a rotated value reaches running agents (default
# 300; 0 = read at start only).
SECRETS_REFRESH = "AGENTFLEET_SECRETS_REFRESH"
#: The reference each cloud's secret store uses, by target (shared by the config checks and the
#: runtime's readers in agent/secrets/).
SECRET_REFERENCES = {
    "aws": r"^(arn:aws[\w-]*:(secretsmanager|ssm):|/)",
    "azure": r"^https://[^/]+\.vault\.azure\.net/secrets/[^/]+(/[^/]+)?/?$",
    "gcp": r"^projects/[^/]+/secrets/[^/]+(/versions/[^/]+)?$",
}
#: The same, as a user writes them (for error messages).
SECRET_REFERENCE_FORMS = {
    "aws": "a Secrets Manager ARN, an SSM parameter ARN, or /parameter/name",
    "azure": "a Key Vault secret URI, https://VAULT.vault.azure.net/secrets/NAME[/VERSION]",
    "gcp": "a Secret Manager name, projects/PROJECT/secrets/NAME[/versions/VERSION]",
}
#: Seconds a busy agent stays protected from scale-in after it goes idle, on the clouds (the
#: runtime's `agent/protection/`; the targets' simulation models take the same number).
PROTECTION_IDLE_GRACE_SECONDS = 30.0
POD_NAME = "AGENTFLEET_POD_NAME"  # GKE only, from the downward API (metadata.name)
POD_NAMESPACE = "AGENTFLEET_POD_NAMESPACE"  # GKE only, from the downward API (metadata.namespace)

BACKENDS = ("sqs", "servicebus", "pubsub", "sqlite")
LIFECYCLES = ("aws-asg", "azure-scheduled-events", "none")
PROTECTIONS = ("aws-asg", "azure-vmss", "kubernetes-pod", "local", "none")


def common_environment(
    *,
    handler: str | None,
    concurrency: int,
    drain_timeout_seconds: int,
    visibility_timeout_seconds: int,
    port: int,
    warmup_seconds: int,
    max_receive_count: int,
) -> dict[str, str]:
    """The cloud-neutral part of the agent environment, from the fleet config's numbers."""
    env = {
        CONCURRENCY: str(concurrency),
        DRAIN_TIMEOUT: str(drain_timeout_seconds),
        VISIBILITY_TIMEOUT: str(visibility_timeout_seconds),
        PORT: str(port),
        WARMUP: str(warmup_seconds),
        MAX_RECEIVE_COUNT: str(max_receive_count),
    }
    if handler:
        env[HANDLER] = handler
    return env
