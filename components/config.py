"""The one fleet configuration, typed and validated before any resource is registered.

`FleetConfig` mirrors the `agentfleet:fleet` stack-config object of docs/DESIGN.md key for key.
Cloud-neutral rules live here; each cloud's own limits (SQS's 12-hour visibility, Service Bus's
5-minute lock, Pub/Sub's 5-100 delivery attempts) live in `providers/<cloud>/limits.py`, which
imports no SDK and is consulted by `load_fleet_config` so that every bad value, neutral or
cloud-specific, is reported in one message before Pulumi creates anything.

Error messages follow one shape, so that a user can act on them without reading code:

    agentfleet: fleet.scaling.max_agents=0 must be >= min_agents (1)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Cloud = Literal["aws", "azure", "gcp"]
CLOUDS: tuple[str, ...] = ("aws", "azure", "gcp")

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{2,23}$")
HANDLER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_ENV_PREFIX = "AGENTFLEET_"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: The value of a key that is not there at all (shown as `fleet.name is required`, with no `=`).
MISSING: Any = _Missing()


@dataclass(frozen=True)
class ConfigProblem:
    """One bad value: where it is, what it was, and what would be accepted."""

    field: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        if self.value is MISSING:
            return f"agentfleet: {self.field} {self.allowed}"
        return f"agentfleet: {self.field}={_show(self.value)} {self.allowed}"


class ConfigError(ValueError):
    """Raised with every problem of a configuration at once, one line each."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if (value == "" or " " in value) else value
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class _Section(BaseModel):
    # A misspelt key (`scalling:`) is an error, not a silently ignored default.
    # Strict: stack config keeps YAML's types, so `max_agents: true` or `port: "8080"` is a
    # mistake to report, not a value to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AgentConfig(_Section):
    """The agent container: what runs, how many messages at once, how long it may drain."""

    image: str = Field(min_length=1, description="container image the agent runs")
    handler: str | None = Field(default=None, description="module:function inside the image")
    port: int = Field(default=8080, ge=1024, le=65535, description="/healthz /ready /metrics")
    concurrency: int = Field(default=1, ge=1, le=256, description="messages in flight per agent")
    drain_timeout_seconds: int = Field(default=60, ge=1, description="SIGTERM -> finish in-flight -> exit")
    env: dict[str, str] = Field(default_factory=dict, description="plain environment for the agent")

    @field_validator("image")
    @classmethod
    def _image_has_no_spaces(cls, v: str) -> str:
        if v.strip() != v or " " in v:
            raise ValueError("must be a container image reference without spaces")
        return v

    @field_validator("handler")
    @classmethod
    def _handler_is_module_function(cls, v: str | None) -> str | None:
        if v is not None and not HANDLER_PATTERN.match(v):
            raise ValueError("must be 'module:function', for example 'moodring.agent:handle'")
        return v

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not ENV_NAME_PATTERN.match(key):
                raise ValueError(f"key {key!r} must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
            if key.startswith(RESERVED_ENV_PREFIX):
                raise ValueError(
                    f"key {key!r} must not start with {RESERVED_ENV_PREFIX}: those variables are set "
                    "by agentfleet from the rest of the config"
                )
        return v


class QueueConfig(_Section):
    """The work queue and its dead-letter queue."""

    visibility_timeout_seconds: int = Field(default=300, ge=1, description="lease / peek-lock / ack deadline")
    max_receive_count: int = Field(default=5, ge=1, description="deliveries before dead-lettering")
    retention_seconds: int = Field(
        default=345_600, ge=60, description="how long an unprocessed message is kept"
    )


class ScalingConfig(_Section):
    """Capacity that follows the backlog: the numbers the scaling policy is built from."""

    min_agents: int = Field(default=0, ge=0, description="0 = scale to zero")
    max_agents: int = Field(default=10, ge=1, le=1000)
    target_backlog_per_agent: int = Field(default=10, ge=1, description="queued messages per agent aimed for")
    warmup_seconds: int = Field(default=90, ge=0, le=3600, description="before an agent counts")
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=86_400)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> ScalingConfig:
        if self.min_agents > self.max_agents:
            raise _RangeError("max_agents", self.max_agents, f"must be >= min_agents ({self.min_agents})")
        return self


class StateConfig(_Section):
    """Where agents keep state, since they keep none of their own."""

    table: bool = True
    bucket: bool = True
    cache: bool = False


class ComputeConfig(_Section):
    spot: bool = False


class AwsConfig(_Section):
    """AWS-only settings. Leave vpc_id/subnet_ids unset to get a new VPC."""

    instance_type: str = "t3.small"
    vpc_id: str | None = None
    subnet_ids: list[str] | None = None

    @field_validator("instance_type")
    @classmethod
    def _instance_type_shape(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", v):
            raise ValueError("must be an EC2 instance type such as 't3.small'")
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
    def _vpc_and_subnets_together(self) -> AwsConfig:
        if (self.vpc_id is None) != (self.subnet_ids is None):
            missing = "subnet_ids" if self.subnet_ids is None else "vpc_id"
            given = "vpc_id" if missing == "subnet_ids" else "subnet_ids"
            raise _RangeError(missing, None, f"must be set together with {given} to use an existing network")
        return self


class AzureConfig(_Section):
    """Azure-only settings. Leave subnet_id unset to get a new VNet."""

    vm_size: str = "Standard_B2s"
    subnet_id: str | None = None

    @field_validator("subnet_id")
    @classmethod
    def _subnet_id_shape(cls, v: str | None) -> str | None:
        if v is not None and not re.match(
            r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$",
            v,
            re.IGNORECASE,
        ):
            raise ValueError(
                "must be a subnet resource id: /subscriptions/SUB/resourceGroups/RG/providers/"
                "Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET"
            )
        return v


class GcpConfig(_Section):
    """GCP-only settings. Leave cluster unset to create a GKE cluster; network defaults to 'default'."""

    machine_type: str = "e2-standard-2"
    cluster: str | None = None
    network: str | None = None


class FleetConfig(_Section):
    """`agentfleet:fleet`: one configuration, whatever the cloud."""

    name: str
    agent: AgentConfig
    queue: QueueConfig = Field(default_factory=QueueConfig)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    aws: AwsConfig = Field(default_factory=AwsConfig)
    azure: AzureConfig = Field(default_factory=AzureConfig)
    gcp: GcpConfig = Field(default_factory=GcpConfig)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str) -> str:
        if not NAME_PATTERN.match(v):
            raise ValueError(
                "must be 3-24 chars: a lowercase letter first, then lowercase letters, digits or '-'"
            )
        return v


class _RangeError(ValueError):
    """A cross-field rule broken inside a section: names the sibling field it belongs to."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        super().__init__(allowed)
        self.field = field
        self.value = value
        self.allowed = allowed


@dataclass(frozen=True)
class StackSettings:
    """What the Pulumi program needs besides the fleet: which cloud, and where."""

    cloud: str
    fleet: FleetConfig
    region: str | None = None


def parse_fleet(raw: Mapping[str, Any] | None, prefix: str = "fleet") -> FleetConfig:
    """Validate a raw `agentfleet:fleet` object; raise `ConfigError` naming every bad field."""
    if raw is None:
        raise ConfigError(
            [ConfigProblem(prefix, None, "must be set: add an `agentfleet:fleet` object to the stack config")]
        )
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [ConfigProblem(prefix, raw, "must be an object with name, agent, queue, scaling, ...")]
        )
    try:
        return FleetConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(_problems(exc, raw, prefix)) from None


def validate_for_cloud(cloud: str | None, fleet: FleetConfig) -> None:
    """Apply the chosen cloud's limits (no SDK is imported for this)."""
    if cloud not in CLOUDS:
        raise ConfigError(
            [ConfigProblem("cloud", cloud, f"must be one of {', '.join(CLOUDS)} (set agentfleet:cloud)")]
        )
    from providers import cloud_limits

    problems = cloud_limits(cloud)(fleet)
    if problems:
        raise ConfigError(problems)


def load_fleet_config(cloud: str | None, raw: Mapping[str, Any] | None) -> FleetConfig:
    """The whole check the program runs first: neutral rules, then the cloud's limits."""
    problems: list[ConfigProblem] = []
    if cloud not in CLOUDS:
        problems.append(
            ConfigProblem("cloud", cloud, f"must be one of {', '.join(CLOUDS)} (set agentfleet:cloud)")
        )
    try:
        fleet = parse_fleet(raw)
    except ConfigError as exc:
        problems += exc.problems
        if cloud in CLOUDS and isinstance(raw, Mapping):
            problems += _cloud_problems_despite(cloud, raw, exc.problems)
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    validate_for_cloud(cloud, fleet)
    return fleet


#: Stand-ins for required keys, used only to check the cloud limits of an otherwise broken config.
_PLACEHOLDERS: dict[str, Any] = {"name": "placeholder", "agent": {"image": "placeholder"}}


def _cloud_problems_despite(
    cloud: str, raw: Mapping[str, Any], known: list[ConfigProblem]
) -> list[ConfigProblem]:
    """The cloud's limits on the valid part of a config that has neutral problems too.

    The bad values are dropped (their problems are already reported) and required keys are
    stood in for, so a user sees every problem in one run instead of fixing them in rounds.
    """
    from providers import cloud_limits

    cleaned = _without(raw, {p.field.removeprefix("fleet.") for p in known})
    for key, value in _PLACEHOLDERS.items():
        if isinstance(value, dict):
            section = cleaned.setdefault(key, {})
            if isinstance(section, dict):
                for k, v in value.items():
                    section.setdefault(k, v)
        else:
            cleaned.setdefault(key, value)
    try:
        fleet = FleetConfig.model_validate(cleaned)
    except ValidationError:
        return []
    reported = {p.field for p in known}
    return [p for p in cloud_limits(cloud)(fleet) if p.field not in reported]


def _without(raw: Mapping[str, Any], paths: set[str], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if path in paths:
            continue
        out[key] = _without(value, paths, f"{path}.") if isinstance(value, Mapping) else value
    return out


def _problems(exc: ValidationError, raw: Mapping[str, Any], prefix: str) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, _RangeError):
            path = ".".join([prefix, *loc, inner.field])
            problems.append(ConfigProblem(path, inner.value, inner.allowed))
            continue
        path = ".".join([prefix, *loc])
        value = MISSING if err["type"] == "missing" else err.get("input")
        problems.append(ConfigProblem(path, value, _allowed(err)))
    return problems


def _allowed(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key (check its spelling against docs/configuration.md)"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("string_type",):
        return "must be a string"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object"
    if kind == "list_type":
        return "must be a list"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


def agent_environment(config: FleetConfig) -> dict[str, str]:
    """The cloud-neutral variables every provider gives the agent container (agent/contract.py)."""
    from agent.contract import common_environment

    a, q, s = config.agent, config.queue, config.scaling
    env = dict(a.env)
    env.update(
        common_environment(
            handler=a.handler,
            concurrency=a.concurrency,
            drain_timeout_seconds=a.drain_timeout_seconds,
            visibility_timeout_seconds=q.visibility_timeout_seconds,
            port=a.port,
            warmup_seconds=s.warmup_seconds,
            max_receive_count=q.max_receive_count,
        )
    )
    return env
