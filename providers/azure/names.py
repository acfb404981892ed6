"""Every name of a fleet's Azure resources, derived from the fleet name in one place, and the
site (resource group and region) every one of them is created in.

Most are Pulumi logical names (`moodring-vmss`): azure-native adds an 8-character suffix to make
the Azure name, except where the program sets the Azure name itself because Azure constrains it
beyond the fleet name's own rules:

- storage account names are global, 3-24 lowercase letters and digits: the fleet name without
  dashes plus a hash of the resource group's id, so the name is stable across `pulumi up` runs
  (as ARM's `uniqueString(resourceGroup().id)` is) and distinct between stacks;
- table names are alphanumeric, 3-63 characters, a letter first;
- the Service Bus queue is named exactly after the fleet (what operators send to);
- Key Vault names are global too, 3-24 letters, digits and single hyphens, a letter first: the
  fleet name without dashes, `-kv-` and the same hash (`vault_name`). A deleted vault keeps its
  name for its soft-delete retention (purge protection forbids purging it), so a name that
  came back on every new stack would be refused; the hash of the resource group's id (whose
  name azure-native suffixes at random) makes each stack's vault name new.

What several fleets share (`NetworkNames`) is named after the `FleetNetwork` component, so no
two fleets ever register the same name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pulumi

TABLE_SUFFIX = "state"


def account_name(fleet_name: str, resource_group_id: str) -> str:
    """A valid, stable, globally-distinct storage account name for this fleet and resource group."""
    stem = re.sub(r"[^a-z0-9]", "", fleet_name.lower())[:16]
    return f"{stem}{_digest(resource_group_id)}"


#: Key Vault: "Vault names must be 3-24 characters ... contain only 0-9, a-z, A-Z, and -" (letter
#: first, a letter or digit last, no consecutive hyphens).
VAULT_NAME_PATTERN = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
#: Key Vault object names: "1-127 characters ... 0-9, a-z, A-Z, and -".
SECRET_NAME_PATTERN = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


def _digest(resource_group_id: str) -> str:
    return hashlib.sha256(resource_group_id.lower().encode()).hexdigest()[:8]


def vault_name(fleet_name: str, resource_group_id: str) -> str:
    """A valid, stable, globally-distinct Key Vault name for this fleet and resource group."""
    stem = re.sub(r"[^a-z0-9]", "", fleet_name.lower())[:12]
    return f"{stem}-kv-{_digest(resource_group_id)}"


def secret_name(variable: str) -> str:
    """The Key Vault secret that holds environment variable `variable`: `API_KEY` -> `API-KEY`
    (environment names have no '-', so no two variables share a secret)."""
    return variable.replace("_", "-")


def table_name(fleet_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", fleet_name) + TABLE_SUFFIX


class _NetworkParts:
    """The names network.py and the log workspace take, the same for a fleet's own network and
    for the one several fleets share; `_of` adds the owner's name."""

    def _of(self, part: str) -> str:
        raise NotImplementedError

    @property
    def security_group(self) -> str:
        return self._of("nsg")

    @property
    def nat_ip(self) -> str:
        return self._of("nat-ip")

    @property
    def nat_gateway(self) -> str:
        return self._of("nat")

    @property
    def vnet(self) -> str:
        return self._of("vnet")

    @property
    def subnet(self) -> str:
        return self._of("subnet")

    @property
    def workspace(self) -> str:
        return self._of("logs")


@dataclass(frozen=True)
class NetworkNames(_NetworkParts):
    """The names of what several fleets share, after the `FleetNetwork` component (`shared`)."""

    network: str

    def _of(self, part: str) -> str:
        return f"{self.network}-{part}"

    @property
    def resource_group(self) -> str:
        # Not `<network>-rg`: a fleet named like the network would register that too.
        return self._of("network-rg")


@dataclass(frozen=True)
class FleetNames(_NetworkParts):
    """The names of one fleet's resources; `fleet` is the validated fleet name."""

    fleet: str

    def _of(self, part: str) -> str:
        return f"{self.fleet}-{part}"

    # fleet.py
    @property
    def resource_group(self) -> str:
        return self._of("rg")

    # queue.py
    @property
    def namespace(self) -> str:
        # Namespace names ending in "-sb" are reserved by Azure; "-bus" plus Pulumi's random
        # suffix keeps the global name unique.
        return self._of("bus")

    @property
    def queue_resource(self) -> str:
        return self._of("queue")

    @property
    def queue(self) -> str:
        """The Service Bus queue's own name: the fleet name."""
        return self.fleet

    # state.py
    @property
    def storage_account(self) -> str:
        return self._of("state")

    @property
    def table_resource(self) -> str:
        return self._of("table")

    @property
    def table(self) -> str:
        return table_name(self.fleet)

    @property
    def container_resource(self) -> str:
        return self._of("blobs")

    @property
    def cache(self) -> str:
        return self._of("cache")

    @property
    def cache_database(self) -> str:
        return self._of("cache-db")

    # identity.py
    @property
    def identity(self) -> str:
        return self._of("identity")

    @property
    def protection_role(self) -> str:
        """The custom role that lets agents protect their own VM from scale-in."""
        return self._of("scale-in-protection-role")

    def grant(self, what: str) -> str:
        """A role assignment (or access policy assignment) of the agents' identity: `queue-receiver`."""
        return self._of(what)

    # compute.py
    @property
    def scale_set(self) -> str:
        return self._of("vmss")

    @property
    def computer_name_prefix(self) -> str:
        return self.fleet

    @property
    def nic(self) -> str:
        return self._of("nic")

    # scaling.py
    @property
    def autoscale(self) -> str:
        return self._of("autoscale")

    # secrets.py
    @property
    def vault(self) -> str:
        return self._of("vault")

    def secret(self, variable: str) -> str:
        """The Pulumi name of the stored secret of environment variable `variable`."""
        return self._of(f"secret-{secret_name(variable)}")

    # monitoring.py
    @property
    def bus_diagnostics(self) -> str:
        return self._of("bus-diagnostics")

    def alert(self, what: str) -> str:
        """A metric alert: `dead-lettered`."""
        return self._of(what)


@dataclass(frozen=True)
class Site:
    """Where a fleet's resources go: its resource group (name and id) and its region (the
    stack's `azure-native:location`, or the location of an explicit provider: fleet.py).

    Every `build_*` of this package takes `(parent, config, site, *, inputs)`; see fleet.py."""

    resource_group: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    location: pulumi.Input[str]
