"""The agent's environment on AWS, and the user data that starts it (providers/cloudinit.py).

The environment is the contract of agent/contract.py: the cloud-neutral part from the config,
plus where the work is (SQS URLs), where state lives (table, bucket, cache), which region the SDK
talks to, and the lifecycle names the agent needs to complete its own termination action.

Container logs go to the fleet's CloudWatch log group through Docker's `awslogs` driver
(non-blocking: a CloudWatch hiccup never stalls the agent). An agent whose `/healthz` keeps
failing is marked Unhealthy in its Auto Scaling group (`aws autoscaling set-instance-health`),
which terminates and replaces it through the termination lifecycle hook. An image in Amazon ECR
is pulled after `aws ecr get-login-password | docker login` (identity.py grants the pull on exactly that
repository); any other registry must be reachable without credentials. The image may come from
another resource (`FleetInputs.image`): everything derived from it waits for its string.

`agent.secrets` reach the agent as `AGENTFLEET_SECRETS`, a JSON object of variable name to
reference (secrets.py): ARNs and parameter names only, never a value.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from agentfleet.agent import contract
from agentfleet.components.environment import agent_environment
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames
from agentfleet.providers.aws.settings import USER_DATA_MAX_BYTES
from agentfleet.providers.cloudinit import agent_cloud_config

LIFECYCLE = "aws-asg"
#: The agent toggles its own instance's scale-in protection in its group (agent/contract.py).
PROTECTION = "aws-asg"
ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?/(?P<repo>[^:@]+)"
)


@dataclass(frozen=True)
class EcrImage:
    """An image in Amazon ECR: agents need the instance role's pull rights and a docker login."""

    account: str
    region: str
    repository: str
    partition: str

    @property
    def registry(self) -> str:
        suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        return f"{self.account}.dkr.ecr.{self.region}.{suffix}"

    @property
    def repository_arn(self) -> str:
        return f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{self.repository}"

    def login_script(self) -> str:
        return (
            f"aws ecr get-login-password --region {self.region} | "
            f"docker login --username AWS --password-stdin {self.registry}"
        )


def ecr_image(image: str) -> EcrImage | None:
    """The ECR repository `image` lives in, or None for any other registry (public, GHCR, ...)."""
    m = ECR_IMAGE.match(image)
    if m is None:
        return None
    partition = "aws-cn" if m["cn"] else "aws"
    return EcrImage(account=m["account"], region=m["region"], repository=m["repo"], partition=partition)


IMDS = "http://169.254.169.254/latest"


def agent_env(
    config: FleetConfig,
    *,
    queue_url: str,
    dead_letter_url: str,
    table: str | None,
    bucket: str | None,
    cache_url: str | None,
    region: str,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    names = FleetNames(config.name)
    env = agent_environment(config)
    env.update(
        {
            contract.BACKEND: "sqs",
            contract.QUEUE: queue_url,
            contract.DEAD_LETTER_QUEUE: dead_letter_url,
            contract.REGION: region,
            contract.LIFECYCLE: LIFECYCLE,
            contract.LIFECYCLE_HOOK: names.lifecycle_hook,
            contract.GROUP: names.agent_group,
            contract.PROTECTION: PROTECTION,
        }
    )
    if table is not None:
        env[contract.STATE] = table
    if bucket is not None:
        env[contract.BUCKET] = bucket
    if cache_url is not None:
        env[contract.CACHE] = cache_url
    if secrets:
        # References only (ARNs, parameter names): the agent reads the values with its own role.
        env[contract.SECRETS] = json.dumps(dict(sorted(secrets.items())), separators=(",", ":"))
    return env


def mark_unhealthy_command(region: str) -> str:
    """Shell: this instance (found through IMDSv2) tells its Auto Scaling group it is unhealthy."""
    return (
        f"token=$(curl -sS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' {IMDS}/api/token); "
        f'instance=$(curl -sS -H "X-aws-ec2-metadata-token: $token" {IMDS}/meta-data/instance-id); '
        f'aws autoscaling set-instance-health --region {region} --instance-id "$instance" '
        "--health-status Unhealthy --should-respect-grace-period"
    )


def being_removed_command() -> str:
    """Shell: succeeds when this instance's Auto Scaling target lifecycle state is `Terminated`.

    The agent's unit runs it before each start (providers/cloudinit.py): an agent that drained for
    a scale-in, refresh or replacement is not started again while the instance waits to go.
    """
    return (
        "token=$(curl -sS --max-time 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "
        f"{IMDS}/api/token)"
        f' && state=$(curl -sS --fail --max-time 2 -H "X-aws-ec2-metadata-token: $token" '
        f"{IMDS}/meta-data/autoscaling/target-lifecycle-state)"
        ' && [ "$state" = Terminated ]'
    )


def render_user_data(
    config: FleetConfig, policy: ScalingPolicy, env: dict[str, str], region: str, image: str | None = None
) -> str:
    """The `#cloud-config` document (plain text) for resolved values; `image` in place of
    `agent.image` when it comes from another resource (FleetInputs.image)."""
    image = image if image is not None else config.agent.image
    document = agent_cloud_config(
        image=image,
        env=env,
        port=config.agent.port,
        drain_timeout_seconds=policy.drain_timeout_seconds,
        lifecycle=LIFECYCLE,
        health_grace_seconds=policy.health_check_grace_seconds,
        on_unhealthy=mark_unhealthy_command(region),
        log_driver="awslogs",
        registry_login=ecr.login_script() if (ecr := ecr_image(image)) else None,
        being_removed=being_removed_command(),
        log_options={
            "awslogs-group": FleetNames(config.name).log_group,
            "awslogs-region": region,
            "mode": "non-blocking",
            "max-buffer-size": "4m",
        },
    )
    size = len(document.encode())
    if size > USER_DATA_MAX_BYTES:
        # settings.py keeps agent.env small enough; this guards the rest (very long names or URLs).
        raise ValueError(
            f"agentfleet: the agent's user data is {size} bytes; EC2 accepts at most {USER_DATA_MAX_BYTES}"
        )
    return document


def user_data(
    config: FleetConfig,
    policy: ScalingPolicy,
    *,
    queue_url: pulumi.Input[str],
    dead_letter_url: pulumi.Input[str],
    table: pulumi.Input[str] | None,
    bucket: pulumi.Input[str] | None,
    cache_url: pulumi.Input[str] | None,
    region: str,
    image: pulumi.Input[str],
    secrets: pulumi.Input[Mapping[str, str]] | None = None,
) -> pulumi.Output[str]:
    """Base64 user data for the launch template, once every name, URL and the image are known."""

    def render(v: list[Any]) -> str:
        queue, dlq, tbl, bkt, cache, img, refs = v
        assert queue is not None and dlq is not None
        env = agent_env(
            config,
            queue_url=queue,
            dead_letter_url=dlq,
            table=tbl,
            bucket=bkt,
            cache_url=cache,
            region=region,
            secrets=refs,
        )
        return base64.b64encode(render_user_data(config, policy, env, region, img).encode()).decode()

    return pulumi.Output.all(queue_url, dead_letter_url, table, bucket, cache_url, image, secrets).apply(
        render
    )


def ecr_repository_arn(image: pulumi.Input[str]) -> pulumi.Output[str | None]:
    """The ARN of the ECR repository the image is pulled from (None for any other registry), from
    the image's string once it is known: an image built in the same stack is an Output."""
    return pulumi.Output.from_input(image).apply(
        lambda i: ecr.repository_arn if (ecr := ecr_image(i)) else None
    )
