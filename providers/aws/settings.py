"""AWS's own limits on a fleet config. Imports no SDK: runs before anything is registered.

Sources: SQS developer guide (visibility 0-43,200 s, retention 60 s-14 days, maxReceiveCount
1-1,000), EC2 Auto Scaling lifecycle hooks (heartbeat 30-7,200 s), EC2 user data (16 KB before
base64, which holds the agent's environment next to its setup), and the naming rules of the
resources named after the fleet (names.py) that a legal fleet name can still break: EC2 security
group names must not start with `sg-`; an ElastiCache replication group id must not end with a
hyphen or contain two in a row; S3 reserves the bucket name prefixes `xn--`, `sthree-` and
`amzn-s3-demo-`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import ClassVar

from pydantic import field_validator, model_validator

from agentfleet.agent.contract import SECRET_REFERENCES
from agentfleet.components.policy import SHUTDOWN_MARGIN_SECONDS, ScalingPolicy
from agentfleet.components.problems import ConfigProblem, CrossFieldError
from agentfleet.components.schema import FleetConfig, SecretReference, TargetSettings
from agentfleet.providers.aws import references
from agentfleet.providers.aws.names import FleetNames

#: A mixed instances policy takes at most 40 launch template overrides (Auto Scaling quota).
SPOT_OVERRIDES_MAX = 40
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


class AwsSettings(TargetSettings):
    """AWS-only settings. Leave vpc_id/subnet_ids unset to get a new VPC.

    ami_id:              pin the agents' image; unset, each new agent boots the newest Amazon
                         Linux 2023 for its architecture (compute.py: no redeploy rolls the fleet)
    on_demand_base:      with `compute.spot`, this many agents are On-Demand before any Spot one
    spot_instance_types: with `compute.spot`, the exact types to spread Spot over (instead of
                         the same size in the sibling families compute.py derives)
    """

    section: ClassVar[str] = "aws"

    instance_type: str = "t3.small"
    vpc_id: str | None = None
    subnet_ids: list[str] | None = None
    ami_id: str | None = None
    on_demand_base: int = 0
    spot_instance_types: list[str] | None = None

    @field_validator("instance_type")
    @classmethod
    def _instance_type_shape(cls, v: str) -> str:
        if not INSTANCE_TYPE.match(v):
            raise ValueError("must be an EC2 instance type such as 't3.small'")
        return v

    @field_validator("ami_id")
    @classmethod
    def _ami_shape(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^ami-[0-9a-f]{8,17}$", v):
            raise ValueError("must be an AMI id such as 'ami-0f3c7d07486cad139'")
        return v

    @field_validator("on_demand_base")
    @classmethod
    def _on_demand_base_range(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be >= 0")
        return v

    @field_validator("spot_instance_types")
    @classmethod
    def _spot_types_shape(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not 1 <= len(v) <= SPOT_OVERRIDES_MAX:
                raise ValueError(f"must list 1 to {SPOT_OVERRIDES_MAX} instance types (Auto Scaling's limit)")
            for t in v:
                if not INSTANCE_TYPE.match(t):
                    raise ValueError(f"entry {t!r} must be an EC2 instance type such as 't3.small'")
            if len(set(v)) != len(v):
                raise ValueError("must not name an instance type twice")
        return v

    @field_validator("vpc_id")
    @classmethod
    def _vpc_shape(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^vpc-[0-9a-f]{8,17}$", v):
            raise ValueError("must be a VPC id such as 'vpc-0abc12345def67890'")
        return v

    @field_validator("subnet_ids")
    @classmethod
    def _subnet_shape(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("must list at least one subnet id, or be left out to create a VPC")
            for s in v:
                if not re.match(r"^subnet-[0-9a-f]{8,17}$", s):
                    raise ValueError(f"entry {s!r} must be a subnet id such as 'subnet-0abc12345def67890'")
        return v

    @model_validator(mode="after")
    def _vpc_and_subnets_together(self) -> AwsSettings:
        if (self.vpc_id is None) != (self.subnet_ids is None):
            missing = "subnet_ids" if self.subnet_ids is None else "vpc_id"
            given = "vpc_id" if missing == "subnet_ids" else "subnet_ids"
            raise CrossFieldError(
                missing, None, f"must be set together with {given} to use an existing network"
            )
        return self


SQS_MAX_VISIBILITY_SECONDS = 43_200
SQS_MIN_RETENTION_SECONDS = 60
SQS_MAX_RETENTION_SECONDS = 1_209_600
SQS_MAX_RECEIVE_COUNT = 1_000
LIFECYCLE_HEARTBEAT_MIN_SECONDS = 30
LIFECYCLE_HEARTBEAT_MAX_SECONDS = 7_200
USER_DATA_MAX_BYTES = 16_384
#: What the user's own `agent.env` may take of the user data; the units, scripts and the
#: contract's variables (queue URLs, names) use well under the other half.
USER_ENV_MAX_BYTES = 8_192


SECURITY_GROUP_RESERVED_PREFIX = "sg-"
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


def env_bytes(env: dict[str, str]) -> int:
    """Size of `env` as the KEY=VALUE lines of the agent's env file."""
    return sum(len(f"{k}={v}\n".encode()) for k, v in env.items())


#: The longest ARN Secrets Manager gives a stored value, less the fleet and variable names
#: (`agentfleet/F/V`, secrets.py), in the longest partition and region.
STORED_SECRET_ARN_BYTES = len(
    "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:" + "agentfleet//" + "-AbCdEf"
)


def secrets_bytes(config: FleetConfig) -> int:
    """At most the size of the AGENTFLEET_SECRETS line (name -> reference, one-line JSON)."""
    if not config.agent.secrets:
        return 0
    refs = {
        name: source.ref
        if isinstance(source, SecretReference)
        else "x" * (STORED_SECRET_ARN_BYTES + len(config.name) + len(name))
        for name, source in config.agent.secrets.items()
    }
    return env_bytes({"AGENTFLEET_SECRETS": json.dumps(refs, separators=(",", ":"))})


def validate(config: FleetConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    queue, agent = config.queue, config.agent
    if queue.visibility_timeout_seconds > SQS_MAX_VISIBILITY_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.queue.visibility_timeout_seconds",
                queue.visibility_timeout_seconds,
                f"must be <= {SQS_MAX_VISIBILITY_SECONDS} (SQS's 12-hour visibility limit)",
            )
        )
    if not SQS_MIN_RETENTION_SECONDS <= queue.retention_seconds <= SQS_MAX_RETENTION_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.queue.retention_seconds",
                queue.retention_seconds,
                f"must be between {SQS_MIN_RETENTION_SECONDS} and {SQS_MAX_RETENTION_SECONDS} "
                "(SQS: 60 s to 14 days)",
            )
        )
    if queue.max_receive_count > SQS_MAX_RECEIVE_COUNT:
        problems.append(
            ConfigProblem(
                "fleet.queue.max_receive_count",
                queue.max_receive_count,
                f"must be between 1 and {SQS_MAX_RECEIVE_COUNT} (SQS redrive policy)",
            )
        )
    heartbeat = agent.drain_timeout_seconds + SHUTDOWN_MARGIN_SECONDS
    if heartbeat > LIFECYCLE_HEARTBEAT_MAX_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.agent.drain_timeout_seconds",
                agent.drain_timeout_seconds,
                f"must be <= {LIFECYCLE_HEARTBEAT_MAX_SECONDS - SHUTDOWN_MARGIN_SECONDS} on AWS: "
                "the termination "
                f"lifecycle hook's heartbeat (drain + {SHUTDOWN_MARGIN_SECONDS} s) may be at most "
                f"{LIFECYCLE_HEARTBEAT_MAX_SECONDS} s",
            )
        )
    problems += _instance_problems(config)
    problems += _name_problems(config)
    problems += _reference_problems(config)
    size = env_bytes(agent.env)
    if size > USER_ENV_MAX_BYTES:
        problems.append(
            ConfigProblem(
                "fleet.agent.env",
                size,
                f"(bytes of KEY=VALUE lines) must be <= {USER_ENV_MAX_BYTES} on AWS: "
                f"EC2 user data is limited to {USER_DATA_MAX_BYTES} bytes "
                "and the agent's own setup uses the rest",
            )
        )
    elif size + (references_size := secrets_bytes(config)) > USER_ENV_MAX_BYTES:
        problems.append(
            ConfigProblem(
                "fleet.agent.secrets",
                f"{len(config.agent.secrets)} variables",
                f"must fit with agent.env in {USER_ENV_MAX_BYTES} bytes on AWS: their references take "
                f"up to {references_size} bytes of EC2 user data (at most {USER_DATA_MAX_BYTES}), "
                f"agent.env {size}",
            )
        )
    return problems


def _reference_problems(config: FleetConfig) -> list[ConfigProblem]:
    """A `{ref: ...}` that has the AWS shape the loader checks (agent/contract.py) but names no
    secret or parameter the agents could be granted (`arn:aws:ssm:...:document/x`, a bare `/`)."""
    return [
        ConfigProblem(f"fleet.agent.secrets.{name}.ref", ref, f"must be {references.FORMS}")
        for name, source in config.agent.secrets.items()
        if isinstance(source, SecretReference)
        and re.match(SECRET_REFERENCES["aws"], ref := source.ref)
        and references.grant_for(ref) is None
    ]


def _unsupported_family(instance_type: str) -> str | None:
    """Why agents cannot run on `instance_type`, or None."""
    if instance_type.startswith("mac"):
        return (
            "must not be a Mac instance type: those run only on Dedicated Hosts, which an Auto Scaling "
            "group of agents cannot allocate (and Spot does not offer)"
        )
    if instance_type.startswith("a1."):
        return (
            "must not be an a1 instance type: a1 is first-generation Graviton, which Amazon Linux 2023 "
            "(the agents' image) does not support; use t4g, m6g, c7g or another Graviton2+ type"
        )
    return None


def _instance_problems(config: FleetConfig) -> list[ConfigProblem]:
    settings = config.settings_for(AwsSettings)
    problems: list[ConfigProblem] = []
    if (reason := _unsupported_family(settings.instance_type)) is not None:
        problems.append(ConfigProblem("fleet.aws.instance_type", settings.instance_type, reason))
    for t in settings.spot_instance_types or []:
        if (reason := _unsupported_family(t)) is not None:
            problems.append(ConfigProblem("fleet.aws.spot_instance_types", t, reason))
        elif architecture(t) != architecture(settings.instance_type):
            problems.append(
                ConfigProblem(
                    "fleet.aws.spot_instance_types",
                    t,
                    f"must have the architecture of instance_type {settings.instance_type} "
                    f"({architecture(settings.instance_type)}): the launch template's image is built for one",
                )
            )
    if not config.compute.spot:
        for key, value, unset in (
            ("on_demand_base", settings.on_demand_base, 0),
            ("spot_instance_types", settings.spot_instance_types, None),
        ):
            if value != unset:
                problems.append(
                    ConfigProblem(
                        f"fleet.aws.{key}", value, "is only used with compute.spot: true; remove it"
                    )
                )
    elif settings.on_demand_base > config.scaling.max_agents:
        problems.append(
            ConfigProblem(
                "fleet.aws.on_demand_base",
                settings.on_demand_base,
                f"must be <= scaling.max_agents ({config.scaling.max_agents})",
            )
        )
    return problems


def architecture(instance_type: str) -> str:
    """`arm64` for Graviton types (a `g` after the generation digit: t4g, c7gn, m6gd), else `x86_64`."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if re.match(r"^[a-z-]*?\d+[a-z]*g", family) else "x86_64"


def _name_problems(config: FleetConfig) -> list[ConfigProblem]:
    name = config.name
    problems: list[ConfigProblem] = []
    if name.startswith(SECURITY_GROUP_RESERVED_PREFIX):
        problems.append(
            ConfigProblem(
                "fleet.name",
                name,
                f"must not start with '{SECURITY_GROUP_RESERVED_PREFIX}' on AWS: it names the agents' "
                "security group, and EC2 reserves that prefix for security group ids",
            )
        )
    cache_id = FleetNames(name).cache
    if config.state.cache and "--" in cache_id:
        problems.append(
            ConfigProblem(
                "fleet.name",
                name,
                "must not end with '-' or contain '--' on AWS with state.cache: it names the ElastiCache "
                f"replication group ({cache_id}), whose id may not contain two hyphens in a row",
            )
        )
    reserved = next((p for p in S3_RESERVED_PREFIXES if name.startswith(p)), None)
    if config.state.bucket and reserved is not None:
        problems.append(
            ConfigProblem(
                "fleet.name",
                name,
                f"must not start with '{reserved}' on AWS with state.bucket: it begins the S3 bucket name, "
                "and S3 reserves that prefix",
            )
        )
    return problems


#: Provider config keys AWS cannot do without, checked before anything is registered. The region
#: belongs to the stack: taken from the shell (AWS_REGION) or a provider default, one `pulumi up`
#: from another machine would build a second fleet somewhere else.
REQUIRED_SETTINGS = {
    "aws:region": "must be set to an AWS region such as us-east-1 (pulumi config set aws:region us-east-1)",
}

# -- scale from zero (providers/aws/scaling.py builds the alarm and step policy from these) --------

#: At most this many agents are started in one step from zero; target tracking continues from there.
FROM_ZERO_STEPS = 10

#: The from-zero alarm fires when work waits at zero desired agents in M of the last N periods.
FROM_ZERO_ALARM_M = 2
FROM_ZERO_ALARM_N = 3


@dataclass(frozen=True)
class Step:
    """Add `capacity` agents (to none) while (metric - threshold) is in [lower, upper)."""

    lower: float
    upper: float | None
    capacity: int


def from_zero_steps(policy: ScalingPolicy) -> list[Step]:
    """Steps over `visible` (relative to the alarm threshold) that reproduce desired_agents at zero."""
    target, threshold = policy.target_backlog_per_agent, policy.scale_from_zero_threshold
    if threshold > target:
        raise ValueError(
            f"scale_from_zero_threshold={threshold} must be <= target_backlog_per_agent ({target}) on AWS"
        )
    last = min(policy.max_agents, FROM_ZERO_STEPS)
    steps: list[Step] = []
    for k in range(1, last + 1):
        # k agents for target*(k-1) < visible <= target*k (whole message counts).
        lower = 0.0 if k == 1 else float(target * (k - 1) + 1 - threshold)
        upper = None if k == last else float(target * k + 1 - threshold)
        steps.append(Step(lower=lower, upper=upper, capacity=k))
    return steps


def from_zero_warmup_seconds(policy: ScalingPolicy) -> int:
    """The step policy's warm-up: the agents' own, and at least the alarm's whole evaluation window,
    so an alarm still in ALARM from the minutes before the first step cannot add a second batch."""
    return max(policy.warmup_seconds, FROM_ZERO_ALARM_N * policy.metric_period_seconds)


def capacity_from_zero(policy: ScalingPolicy, visible: int) -> int | None:
    """How many agents the from-zero path starts for `visible` waiting messages (None: the alarm
    stays OK)."""
    if visible < policy.scale_from_zero_threshold:
        return None
    relative = visible - policy.scale_from_zero_threshold
    for step in from_zero_steps(policy):
        if step.lower <= relative and (step.upper is None or relative < step.upper):
            return step.capacity
    raise AssertionError("steps must cover every value above the threshold")
