"""Where the fleet goes: `gcp:project` and `gcp:region` from the stack config, and the naming rules.

These are the GCP provider's own stack keys (the Pulumi GCP provider reads the same ones), so the
program reads them rather than inventing new ones. Missing keys stop the program with the same
kind of message as a bad fleet field, before any GCP resource is registered.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from agentfleet.components.schema import FleetConfig

#: Namespace the program installs KEDA into (one KEDA per cluster: see scaling.py).
KEDA_NAMESPACE = "keda"
#: The KEDA operator's Kubernetes service account: the chart's `serviceAccount.operator.name` default.
KEDA_OPERATOR_KSA = "keda-operator"


@dataclass(frozen=True)
class Placement:
    """The project and region every resource of this fleet is created in."""

    project: str
    region: str


@dataclass(frozen=True)
class Names:
    """Stable names derived from the fleet name: a rename is a visible choice, never an accident."""

    fleet: str

    @property
    def namespace(self) -> str:
        return self.fleet

    @property
    def ksa(self) -> str:
        return f"{self.fleet}-agent"

    @property
    def deployment(self) -> str:
        return f"{self.fleet}-agent"

    @property
    def topic(self) -> str:
        return f"{self.fleet}-work"

    @property
    def subscription(self) -> str:
        return f"{self.fleet}-agents"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.fleet}-dead-letter"

    @property
    def dead_letter_subscription(self) -> str:
        return f"{self.fleet}-dead-letter-kept"

    @property
    def collection(self) -> str:
        """Firestore collection the agents keep their state in."""
        return f"{self.fleet}-state"

    def account_id(self, role: str) -> str:
        """A Google service account id (6-30 chars): fleet name (<= 24) + '-' + a short role."""
        return f"{self.fleet}-{role}"[:30]


def placement() -> Placement:
    """`gcp:project` and `gcp:region`. Their presence is checked with the fleet config, before
    anything is registered (`REQUIRED_SETTINGS` in settings.py)."""
    gcp = pulumi.Config("gcp")
    return Placement(project=gcp.require("project"), region=gcp.require("region"))


def names(config: FleetConfig) -> Names:
    return Names(config.name)
