"""Azure's own limits on a fleet config. Imports no SDK: runs before anything is registered.

Service Bus: lock duration at most 5 minutes (longer visibility is served by the runtime renewing
the lock, so that is not an error); max delivery count >= 1; message TTL at least 1 s.
VMSS terminate notification: not-before timeout 5-15 minutes, so the drain (plus the shutdown
margin) must fit in 15. Autoscale cooldowns: 1 minute to 1 week. Automatic instance repairs:
grace period 10-90 minutes. Spot VMs: no B-series sizes. Names: the queue is the fleet name, so it
must end with a letter or digit; a Redis name can't contain '--'; public endpoint names can't
contain 'microsoft' or 'windows' or start with 'login'.
Secrets: a `{ref: ...}` must name a vault listed in `azure.key_vault_ids` (the fleet grants its
identity read on the secret, and a role assignment's scope is the vault's resource id, which a
secret URI does not hold); stored values become Key Vault secrets named after their variable.

The duration helpers here turn the config's seconds into the ISO 8601 strings the Azure APIs
want; the modules that derive a duration (queue.py's lock, compute.py's grace periods) apply these
limits to it.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar
from urllib.parse import urlparse

from pydantic import Field, field_validator

from agentfleet.agent.contract import SECRET_REFERENCES
from agentfleet.components.policy import SHUTDOWN_MARGIN_SECONDS, ScalingPolicy
from agentfleet.components.problems import ConfigProblem
from agentfleet.components.schema import FleetConfig, SecretReference, TargetSettings
from agentfleet.providers.azure.names import SECRET_NAME_PATTERN, secret_name

VAULT_ID_PATTERN = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/([^/]+)$", re.IGNORECASE
)


class AzureSettings(TargetSettings):
    """Azure-only settings. Leave subnet_id unset to get a new VNet."""

    section: ClassVar[str] = "azure"

    vm_size: str = "Standard_B2s"
    subnet_id: str | None = None
    #: The vaults of the `{ref: ...}` secrets, by resource id, so the fleet can grant its identity
    #: read on exactly those secrets.
    key_vault_ids: list[str] = Field(default_factory=list)

    @field_validator("key_vault_ids")
    @classmethod
    def _vault_id_shape(cls, v: list[str]) -> list[str]:
        for vault_id in v:
            if not VAULT_ID_PATTERN.match(vault_id):
                raise ValueError(
                    f"{vault_id!r} must be a Key Vault resource id: /subscriptions/SUB/resourceGroups/RG/"
                    "providers/Microsoft.KeyVault/vaults/VAULT"
                )
        return v

    def vault_id(self, vault: str) -> str | None:
        """The listed resource id of the vault named `vault` (names are case-insensitive), or None."""
        for vault_id in self.key_vault_ids:
            found = VAULT_ID_PATTERN.match(vault_id)
            if found and found.group(1).lower() == vault.lower():
                return vault_id
        return None

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


SERVICE_BUS_MAX_DELIVERY_COUNT = 2_000
TERMINATE_NOTIFICATION_MIN_SECONDS = 300
TERMINATE_NOTIFICATION_MAX_SECONDS = 900
#: Automatic instance repairs: "The minimum allowed grace period is 10 minutes (PT10M), which is
#: also the default value. The maximum allowed grace period is 90 minutes (PT90M)."
REPAIR_GRACE_MIN_SECONDS = 600
REPAIR_GRACE_MAX_SECONDS = 5_400
#: Autoscale scale action cooldown: "between 1 week and 1 minute in ISO 8601 format".
AUTOSCALE_COOLDOWN_MIN_SECONDS = 60
#: The fewest agents a scale set keeps, whatever min_agents says: autoscale has no rule that
#: starts an agent from zero for a small backlog without also firing on a trickle (scaling.py).
FEWEST_AGENTS = 1

#: "Resolve reserved resource name errors": resources with a public endpoint (the Service Bus
#: namespace, the storage account, the Redis cluster) can't have these anywhere in their name ...
RESERVED_SUBSTRINGS = ("microsoft", "windows")
#: ... nor start with these.
RESERVED_PREFIXES = ("login",)

VM_SIZE_PATTERN = re.compile(r"^(Standard|Basic)_[A-Za-z0-9_-]+$")
#: Azure Spot VMs are not offered on B-series (burstable) sizes.
B_SERIES_PATTERN = re.compile(r"^Standard_B\d", re.IGNORECASE)


def iso_duration(seconds: int) -> str:
    """Seconds as an ISO 8601 duration the Azure APIs accept: 300 -> PT5M, 345600 -> P4D."""
    if seconds < 0:
        raise ValueError(f"iso_duration: seconds={seconds} must be >= 0")
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    date = f"{days}D" if days else ""
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    if not date and not time:
        return "PT0S"
    return "P" + date + (f"T{time}" if time else "")


def whole_minutes(seconds: int) -> int:
    """Seconds rounded up to whole minutes, in seconds (APIs that count in minutes)."""
    return math.ceil(seconds / 60) * 60


def name_problems(config: FleetConfig) -> list[ConfigProblem]:
    """Fleet names the neutral pattern allows but Azure's naming rules don't.

    Names of resources with a public endpoint can't hold Azure's reserved words; the Service Bus
    queue is named after the fleet, and queue names must end with a letter or digit; Azure Managed
    Redis names (`<name>-cache...`) can't contain consecutive hyphens.
    """
    name = config.name
    # The storage account's name is the fleet name without its hyphens: "win-dows" counts too.
    reserved = [w for w in RESERVED_SUBSTRINGS if w in name.replace("-", "")] + [
        w for w in RESERVED_PREFIXES if name.startswith(w)
    ]
    if reserved:
        word = reserved[0]
        return [
            ConfigProblem(
                "fleet.name",
                name,
                f"must not contain {word!r} on Azure: the Service Bus namespace and storage account are "
                "named after the fleet, and Azure refuses public endpoint names with 'microsoft' or "
                "'windows' anywhere or 'login' at the start (ReservedResourceName)",
            )
        ]
    if name.endswith("-"):
        return [
            ConfigProblem(
                "fleet.name",
                name,
                "must end with a letter or digit on Azure: the Service Bus queue is named after the "
                "fleet, and queue names end with a letter or digit",
            )
        ]
    if config.state.cache and "--" in name:
        return [
            ConfigProblem(
                "fleet.name",
                name,
                "must not contain '--' on Azure when fleet.state.cache=true: the cache is named "
                "after the fleet, and Azure Managed Redis names can't contain consecutive hyphens",
            )
        ]
    return []


def vault_of(reference: str) -> str:
    """The vault name in a Key Vault secret URI (`https://VAULT.vault.azure.net/secrets/...`)."""
    return (urlparse(reference).hostname or "").split(".", 1)[0]


def secret_problems(config: FleetConfig) -> list[ConfigProblem]:
    """Secrets the fleet could not store or grant: a reference to a vault it has no resource id for,
    a variable whose Key Vault secret name would be too long or taken by another variable."""
    settings = config.settings_for(AzureSettings)
    problems: list[ConfigProblem] = []
    taken: dict[str, str] = {}
    for variable, source in config.agent.secrets.items():
        if isinstance(source, SecretReference):
            if re.match(SECRET_REFERENCES["azure"], source.ref) and not settings.vault_id(
                vault_of(source.ref)
            ):
                problems.append(
                    ConfigProblem(
                        f"fleet.agent.secrets.{variable}.ref",
                        source.ref,
                        f"must be in a vault listed in fleet.azure.key_vault_ids: add the resource id of "
                        f"vault {vault_of(source.ref)!r} (/subscriptions/SUB/resourceGroups/RG/providers/"
                        "Microsoft.KeyVault/vaults/VAULT), so the fleet can grant its identity read on this "
                        "secret (a role assignment needs the vault's resource id, which a secret URI lacks)",
                    )
                )
            continue
        stored = secret_name(variable)
        if not SECRET_NAME_PATTERN.match(stored):
            problems.append(
                ConfigProblem(
                    f"fleet.agent.secrets.{variable}",
                    None,
                    "must be a name of at most 127 characters on Azure: the value is stored as the Key "
                    f"Vault secret {stored[:20]!r}..., and Key Vault secret names are 1-127 characters",
                )
            )
        elif stored.lower() in taken:
            problems.append(
                ConfigProblem(
                    f"fleet.agent.secrets.{variable}",
                    None,
                    f"must differ from {taken[stored.lower()]} in more than letter case on Azure: Key Vault "
                    "secret names are case-insensitive, and both would be stored as one secret",
                )
            )
        taken.setdefault(stored.lower(), variable)
    return problems


def validate(config: FleetConfig) -> list[ConfigProblem]:
    problems = name_problems(config) + secret_problems(config)
    if config.queue.max_receive_count > SERVICE_BUS_MAX_DELIVERY_COUNT:
        problems.append(
            ConfigProblem(
                "fleet.queue.max_receive_count",
                config.queue.max_receive_count,
                f"must be between 1 and {SERVICE_BUS_MAX_DELIVERY_COUNT} (Service Bus max delivery count)",
            )
        )
    drain_max = TERMINATE_NOTIFICATION_MAX_SECONDS - SHUTDOWN_MARGIN_SECONDS
    if config.agent.drain_timeout_seconds > drain_max:
        problems.append(
            ConfigProblem(
                "fleet.agent.drain_timeout_seconds",
                config.agent.drain_timeout_seconds,
                f"must be <= {drain_max} on Azure: a scale set's terminate notification delays deletion "
                f"by 5 to 15 minutes at most, and the drain needs {SHUTDOWN_MARGIN_SECONDS} s of margin "
                "within it",
            )
        )
    cooldown = config.scaling.scale_in_cooldown_seconds
    if cooldown < AUTOSCALE_COOLDOWN_MIN_SECONDS:
        problems.append(
            ConfigProblem(
                "fleet.scaling.scale_in_cooldown_seconds",
                cooldown,
                f"must be >= {AUTOSCALE_COOLDOWN_MIN_SECONDS} on Azure: autoscale cooldowns are 1 minute "
                "to 1 week",
            )
        )
    vm_size = config.settings_for(AzureSettings).vm_size
    if not VM_SIZE_PATTERN.match(vm_size):
        problems.append(
            ConfigProblem(
                "fleet.azure.vm_size",
                vm_size,
                "must be an Azure VM size such as 'Standard_D2as_v5'",
            )
        )
    elif config.compute.spot and B_SERIES_PATTERN.match(vm_size):
        problems.append(
            ConfigProblem(
                "fleet.azure.vm_size",
                vm_size,
                "must not be a B-series size when fleet.compute.spot=true: Azure Spot VMs are not offered "
                "on B-series sizes (choose e.g. 'Standard_D2as_v5')",
            )
        )
    return problems


#: Provider settings an Azure stack cannot do without, checked before anything is registered: none.
#: The location comes from `azure-native:location` or from an explicit azure-native provider passed
#: to the component, which only the build can see (fleet.py `site_location`); it checks there.
REQUIRED_SETTINGS: dict[str, str] = {}
#: Why a stack without an explicit provider needs `azure-native:location`.
LOCATION_REQUIRED = "must be set for an Azure stack: pulumi config set azure-native:location westeurope"


#: Service Bus: "The maximum value for LockDuration is 5 minutes"; the runtime renews for longer work.
SERVICE_BUS_MAX_LOCK_SECONDS = 300


def lock_duration_seconds(config: FleetConfig) -> int:
    """The queue's peek-lock: the visibility timeout, clamped to Service Bus's 5-minute maximum."""
    return min(config.queue.visibility_timeout_seconds, SERVICE_BUS_MAX_LOCK_SECONDS)


def fewest_agents(policy: ScalingPolicy) -> int:
    """The scale set's minimum and first count: min_agents, but never below FEWEST_AGENTS."""
    return max(policy.min_agents, FEWEST_AGENTS)


def cooldown_seconds(seconds: int) -> int:
    """An autoscale cooldown as Azure takes it: whole minutes, at least its 1-minute minimum."""
    return max(AUTOSCALE_COOLDOWN_MIN_SECONDS, whole_minutes(seconds))
