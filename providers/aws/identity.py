"""The agents' identity: one instance role with exactly this fleet's permissions.

Two inline policies, split by when their resources exist:

- `{fleet}-data` (attached before the Auto Scaling group exists, so the first agent can work):
  consume the queue; send to, read the DLQ (a handler's permanent failures); read/write the
  state table and the bucket's objects; write log streams into the fleet's log group; publish
  metrics, but only into the fleet's own CloudWatch namespace (PutMetricData supports no
  resource, so a condition on `cloudwatch:namespace` scopes it instead of a resource ARN); for an
  image in ECR, pull from exactly that repository (plus GetAuthorizationToken, which has no
  resource); read exactly the secrets and parameters of `agent.secrets` (secrets.py);
- `{fleet}-lifecycle`: complete (and extend) *this* group's termination lifecycle action, mark
  an instance of *this* group unhealthy (the /healthz watcher, see compute.py), and set scale-in
  protection on an instance of *this* group (a busy agent protects itself, docs/aws.md
  "Scale-in"). Scoped to the group's ARN, which exists only after the group; the agent calls
  these once it has work or at the end of its life, after this policy is attached.

No wildcard action anywhere, and `Resource: "*"` only for PutMetricData and
GetAuthorizationToken, the two actions without resource-level permissions. The documents are plain
functions of resolved ARNs, so tests run parliament on exactly what `pulumi up` would send.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames, tags

QUEUE_CONSUMER_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
]
DEAD_LETTER_ACTIONS = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:DescribeTable",
]
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
BUCKET_ACTIONS = ["s3:ListBucket"]
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
ECR_PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
#: agent/secrets/aws.py reads each secret with GetSecretValue and each parameter with GetParameter.
SECRET_ACTIONS = ["secretsmanager:GetSecretValue"]
PARAMETER_ACTIONS = ["ssm:GetParameter"]
LIFECYCLE_ACTIONS = [
    "autoscaling:CompleteLifecycleAction",
    "autoscaling:RecordLifecycleActionHeartbeat",
    "autoscaling:SetInstanceHealth",
]
#: A busy agent protects its own instance from scale-in, an idle one lifts it (AGENTFLEET_PROTECTION).
PROTECTION_ACTIONS = ["autoscaling:SetInstanceProtection"]


def assume_role_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@dataclass(frozen=True)
class DataArns:
    """Resolved ARNs of the fleet's data resources (None when the config leaves one out)."""

    queue: str
    dead_letter_queue: str
    table: str | None
    bucket: str | None
    log_group: str
    ecr_repository: str | None = None
    #: Secrets Manager secrets (ARNs, or `-??????` patterns for partial ARNs) of `agent.secrets`.
    secrets: tuple[str, ...] = ()
    #: SSM parameters (ARNs) of `agent.secrets`.
    parameters: tuple[str, ...] = ()


def data_policy(arns: DataArns, metric_namespace: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Sid": "ConsumeWork", "Effect": "Allow", "Action": QUEUE_CONSUMER_ACTIONS, "Resource": arns.queue},
        {
            "Sid": "DeadLetter",
            "Effect": "Allow",
            "Action": DEAD_LETTER_ACTIONS,
            "Resource": arns.dead_letter_queue,
        },
    ]
    if arns.table is not None:
        statements.append(
            {"Sid": "State", "Effect": "Allow", "Action": TABLE_ACTIONS, "Resource": arns.table}
        )
    if arns.bucket is not None:
        statements += [
            {"Sid": "Objects", "Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": f"{arns.bucket}/*"},
            {"Sid": "ListObjects", "Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": arns.bucket},
        ]
    if arns.ecr_repository is not None:
        statements += [
            {
                "Sid": "PullImage",
                "Effect": "Allow",
                "Action": ECR_PULL_ACTIONS,
                "Resource": arns.ecr_repository,
            },
            # GetAuthorizationToken has no resource to scope to (the token is for the registry).
            {
                "Sid": "RegistryLogin",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
        ]
    if arns.secrets:
        statements.append(
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": SECRET_ACTIONS,
                "Resource": list(arns.secrets),
            }
        )
    if arns.parameters:
        statements.append(
            {
                "Sid": "ReadParameters",
                "Effect": "Allow",
                "Action": PARAMETER_ACTIONS,
                "Resource": list(arns.parameters),
            }
        )
    statements += [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": LOG_ACTIONS,
            "Resource": [arns.log_group, f"{arns.log_group}:log-stream:*"],
        },
        {
            "Sid": "Metrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": metric_namespace}},
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def group_policy(group_arn: str) -> dict[str, Any]:
    """What an agent may do to its own group: its lifecycle, its health, its scale-in protection."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "OwnLifecycle", "Effect": "Allow", "Action": LIFECYCLE_ACTIONS, "Resource": group_arn},
            {"Sid": "OwnProtection", "Effect": "Allow", "Action": PROTECTION_ACTIONS, "Resource": group_arn},
        ],
    }


@dataclass
class Identity:
    role: aws.iam.Role
    instance_profile: aws.iam.InstanceProfile
    data_policy: aws.iam.RolePolicy


def build_identity(
    parent: pulumi.Resource,
    config: FleetConfig,
    *,
    region: str,
    queue_arn: pulumi.Input[str],
    dead_letter_arn: pulumi.Input[str],
    table_arn: pulumi.Input[str] | None,
    bucket_arn: pulumi.Input[str] | None,
    log_group_arn: pulumi.Input[str],
    ecr_repository_arn: pulumi.Input[str | None] = None,
    secret_arns: Sequence[pulumi.Input[str]] = (),
    parameter_arns: Sequence[pulumi.Input[str]] = (),
) -> Identity:
    fleet = config.name
    names = FleetNames(fleet)
    opts = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        names.prefixed("agent-role"),
        name=names.role(region),
        description=f"agentfleet {fleet} agents: this fleet's queue, state, logs and lifecycle only",
        assume_role_policy=assume_role_policy(),
        tags=tags(fleet),
        opts=opts,
    )
    profile = aws.iam.InstanceProfile(
        names.prefixed("agent-profile"), name=names.role(region), role=role.name, opts=opts
    )
    document = pulumi.Output.all(
        queue_arn,
        dead_letter_arn,
        table_arn,
        bucket_arn,
        log_group_arn,
        ecr_repository_arn,
        pulumi.Output.all(*secret_arns),
        pulumi.Output.all(*parameter_arns),
    ).apply(
        lambda a: json.dumps(
            data_policy(
                DataArns(
                    queue=a[0],
                    dead_letter_queue=a[1],
                    table=a[2],
                    bucket=a[3],
                    log_group=a[4],
                    ecr_repository=a[5],
                    secrets=tuple(a[6]),
                    parameters=tuple(a[7]),
                ),
                names.metric_namespace,
            )
        )
    )
    data = aws.iam.RolePolicy(
        names.prefixed("agent-data"), name=names.prefixed("data"), role=role.id, policy=document, opts=opts
    )
    return Identity(role=role, instance_profile=profile, data_policy=data)


def build_group_policy(
    parent: pulumi.Resource, config: FleetConfig, *, role: aws.iam.Role, group_arn: pulumi.Output[str]
) -> aws.iam.RolePolicy:
    """The role's policy on the Auto Scaling group, attached once the group (and its ARN) exists."""
    names = FleetNames(config.name)
    return aws.iam.RolePolicy(
        names.prefixed("agent-lifecycle"),
        name=names.prefixed("lifecycle"),
        role=role.id,
        policy=group_arn.apply(lambda arn: json.dumps(group_policy(arn))),
        opts=pulumi.ResourceOptions(parent=parent),
    )
