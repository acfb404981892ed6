"""Every name the GCP provider derives from the fleet name, in one place.

Names are explicit, not generated, so a rename is a visible choice in the config (and a replacement
in the preview), and names that other objects refer to before they exist (the Kubernetes service
account a Workload Identity binding names) are known up front. Each must be legal for its service
at the longest fleet name (tests/infra/test_gcp_names.py).
"""

from __future__ import annotations

from dataclasses import dataclass


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
    def pod_patcher_role(self) -> str:
        """The Role (and its RoleBinding) letting an agent annotate its own pod busy or idle."""
        return f"{self.fleet}-agent-pod-patcher"

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

    @property
    def agent_pool(self) -> str:
        """The agents' GKE node pool."""
        return f"{self.fleet}-agents"

    @property
    def router(self) -> str:
        return f"{self.fleet}-router"

    @property
    def nat(self) -> str:
        return f"{self.fleet}-nat"

    @property
    def keda_firewall(self) -> str:
        return f"{self.fleet}-keda-from-control-plane"

    @property
    def keda_operator(self) -> str:
        """The KEDA operator's Kubernetes service account, unique to this fleet.

        A Workload Identity binding names `PROJECT.svc.id.goog[NAMESPACE/KSA]`, which every cluster
        of the project shares ("identity sameness"): under the chart's default `keda/keda-operator`,
        any KEDA in any cluster of the project would act as this fleet's KEDA account.
        """
        return f"keda-operator-{self.fleet}"

    @property
    def system_node_tag(self) -> str:
        """The network tag on the system pool's nodes, which the KEDA firewall rule targets."""
        return f"agentfleet-{self.fleet}-system"

    def secret(self, variable: str) -> str:
        """The Secret Manager secret holding one `agent.secrets` value (ids: letters, digits, '-', '_')."""
        return f"{self.fleet}-{variable}"

    def account_id(self, role: str) -> str:
        """A Google service account id (6-30 chars): fleet name (<= 24) + '-' + a short role."""
        return f"{self.fleet}-{role}"[:30]
