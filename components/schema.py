"""The cloud-neutral fleet configuration: the `agentfleet:fleet` object, typed.

`FleetConfig` mirrors docs/configuration.md key for key. It holds no cloud: each target's own
section (`fleet.<target>`) is a `TargetSettings` model that lives with its provider
(`providers/<target>/settings.py`) and reaches the config through the loader
(components/validation.py), which validates the neutral keys and every section in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentfleet.components.problems import CrossFieldError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{2,23}$")
#: What NAME_PATTERN allows, as an error message says it (a fleet's and a shared network's name).
NAME_RULE = "must be 3-24 chars: a lowercase letter first, then lowercase letters, digits or '-'"
HANDLER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_ENV_PREFIX = "AGENTFLEET_"


class _Section(BaseModel):
    # A misspelt key (`scalling:`) is an error, not a silently ignored default.
    # Strict: stack config keeps YAML's types, so `max_agents: true` or `port: "8080"` is a
    # mistake to report, not a value to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SecretReference(_Section):
    """`{ref: ...}`: a secret that already lives in the cloud's secret store."""

    ref: str = Field(min_length=1, description="Secrets Manager/SSM ARN, Key Vault URI, Secret Manager name")


class EncryptedSecret(_Section):
    """`{secure: v1:...}`: a Pulumi secret as the stack file holds it, before Pulumi decrypts it."""

    secure: str


#: A value of `agent.secrets`: the secret itself (a Pulumi secret, decrypted by `pulumi up`), its
#: encrypted form (as `agentfleet plan` reads it from the stack file), or a reference.
SecretSource = str | EncryptedSecret | SecretReference


def _env_string(value: object) -> object:
    """A number or boolean as the string an environment variable holds; anything else unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _check_env_name(key: str) -> None:
    if not ENV_NAME_PATTERN.match(key):
        raise ValueError(f"key {key!r} must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
    if key.startswith(RESERVED_ENV_PREFIX):
        raise ValueError(
            f"key {key!r} must not start with {RESERVED_ENV_PREFIX}: those variables are set "
            "by agentfleet from the rest of the config"
        )


class AgentConfig(_Section):
    """The agent container: what runs, how many messages at once, how long it may drain."""

    image: str = Field(min_length=1, description="container image the agent runs")
    handler: str | None = Field(default=None, description="module:function inside the image")
    port: int = Field(default=8080, ge=1024, le=65535, description="/healthz /ready /metrics")
    concurrency: int = Field(default=1, ge=1, le=256, description="messages in flight per agent")
    drain_timeout_seconds: int = Field(default=60, ge=1, description="SIGTERM -> finish in-flight -> exit")
    env: dict[str, str] = Field(default_factory=dict, description="plain environment for the agent")
    secrets: dict[str, SecretSource] = Field(
        default_factory=dict, description="environment variables whose values live in the secret store"
    )

    @field_validator("secrets", mode="before")
    @classmethod
    def _secret_forms(cls, v: object) -> object:
        """One clear message for a value of the wrong form, instead of one per union member."""
        if not isinstance(v, dict):
            return v
        out: dict[str, object] = {}
        for key, value in v.items():
            if isinstance(value, str):
                out[key] = value
            elif isinstance(value, dict) and set(value) == {"ref"} and isinstance(value["ref"], str):
                out[key] = SecretReference(ref=value["ref"])
            elif isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str):
                out[key] = EncryptedSecret(secure=value["secure"])
            else:
                # Named by key and never shown: the other values of this map are secrets.
                raise CrossFieldError(
                    str(key),
                    None,
                    "must be a secret string (pulumi config set --secret --path "
                    f"'agentfleet:fleet.agent.secrets.{key}' VALUE) or {{ref: <secret store reference>}}",
                )
        return out

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, v: dict[str, SecretSource]) -> dict[str, SecretSource]:
        for key, value in v.items():
            try:
                _check_env_name(key)
            except ValueError as exc:
                raise CrossFieldError(key, None, str(exc).removeprefix(f"key {key!r} ")) from None
            if isinstance(value, str) and not value:
                raise CrossFieldError(key, None, "must not be empty")
        return v

    @model_validator(mode="after")
    def _secrets_apart_from_env(self) -> AgentConfig:
        both = sorted(set(self.env) & set(self.secrets))
        if both:
            plain_or_secret = "is also in agent.env: a variable is either plain or secret, not both"
            raise CrossFieldError(f"secrets.{both[0]}", None, plain_or_secret)
        return self

    @field_validator("image")
    @classmethod
    def _image_reference(cls, v: str) -> str:
        if v.strip() != v or " " in v:
            raise ValueError("must be a container image reference without spaces")
        # Without a tag or digest (or with `latest`) each new machine pulls whatever the registry
        # holds at its boot: agents of one fleet run different code, and a redeploy changes nothing.
        if "@" not in v:
            tag = v.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                raise ValueError(
                    "must name a version tag other than 'latest' or a digest "
                    "(image:1.4.2 or image@sha256:...), so every agent runs the same image"
                )
        return v

    @field_validator("handler")
    @classmethod
    def _handler_is_module_function(cls, v: str | None) -> str | None:
        if v is not None and not HANDLER_PATTERN.match(v):
            raise ValueError("must be 'module:function', for example 'moodring.agent:handle'")
        return v

    @field_validator("env", mode="before")
    @classmethod
    def _env_scalars_as_strings(cls, v: object) -> object:
        # `pulumi config set --path agentfleet:fleet.agent.env.WORKERS 4` stores the number 4
        # (Pulumi keeps integers and booleans typed); the environment holds strings.
        if isinstance(v, dict):
            for key, value in v.items():
                if isinstance(value, dict) and set(value) == {"secure"}:
                    # `pulumi config set --secret --path ...agent.env.KEY`: agent.env is plain text in
                    # user data and manifests, so a secret there would be published, not kept.
                    raise CrossFieldError(
                        str(key),
                        None,
                        "is a Pulumi secret: agent.env is plain text on every agent; set it under "
                        f"agent.secrets instead (pulumi config set --secret --path "
                        f"'agentfleet:fleet.agent.secrets.{key}' VALUE)",
                    )
            return {k: _env_string(value) for k, value in v.items()}
        return v

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            _check_env_name(key)
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
            raise CrossFieldError("max_agents", self.max_agents, f"must be >= min_agents ({self.min_agents})")
        return self


class StateConfig(_Section):
    """Where agents keep state, since they keep none of their own."""

    table: bool = True
    bucket: bool = True
    cache: bool = False


class ComputeConfig(_Section):
    spot: bool = False


class TargetSettings(_Section):
    """A target's own section of the fleet config (`fleet.<target>`); every key must have a default.

    Subclasses live in `providers/<target>/settings.py` and set `section` to their key.
    """

    section: ClassVar[str] = ""


S = TypeVar("S", bound=TargetSettings)


class FleetConfig(_Section):
    """`agentfleet:fleet`: one configuration, whatever the cloud."""

    name: str
    agent: AgentConfig
    queue: QueueConfig = Field(default_factory=QueueConfig)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    #: Each target's section by its key, filled in by the loader (absent sections at their defaults).
    targets: Mapping[str, TargetSettings] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str) -> str:
        if not NAME_PATTERN.match(v):
            raise ValueError(NAME_RULE)
        return v

    def settings_for(self, kind: type[S]) -> S:
        """The `fleet.<kind.section>` section, or its defaults when the config has none."""
        found = self.targets.get(kind.section)
        if found is None:
            return kind()
        if not isinstance(found, kind):
            raise TypeError(f"fleet.{kind.section} holds {type(found).__name__}, not {kind.__name__}")
        return found
