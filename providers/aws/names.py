"""Every AWS name of a fleet, derived from the fleet name in one place.

Names are explicit, not auto-generated, so that a rename is a visible choice in the config (and
a replacement in the preview), and so that the names resources refer to before they exist (the
user data names the Auto Scaling group and its lifecycle hook) are known up front.

Most of these resources are regional. IAM roles and instance profiles, and CloudWatch dashboards,
are global to the account, so their names carry the region too: a fleet of the same name in a
second region of the account (a prod stack copied from dev with another `aws:region`) would
otherwise fail on `EntityAlreadyExists`, or silently take over the other fleet's dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FleetNames:
    fleet: str

    @property
    def queue(self) -> str:
        return f"{self.fleet}-queue"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.fleet}-dlq"

    @property
    def state_table(self) -> str:
        return f"{self.fleet}-state"

    @property
    def bucket_prefix(self) -> str:
        # S3 names are global: AWS appends a unique suffix to this prefix.
        return f"{self.fleet}-state-"

    @property
    def cache(self) -> str:
        return f"{self.fleet}-cache"

    @property
    def agent_group(self) -> str:
        return f"{self.fleet}-agents"

    @property
    def launch_template(self) -> str:
        return f"{self.fleet}-agent"

    @property
    def lifecycle_hook(self) -> str:
        return f"{self.fleet}-drain"

    def role(self, region: str) -> str:
        """The agents' IAM role and instance profile (global: carries the region)."""
        return f"{self.fleet}-agent-{region}"

    def dashboard(self, region: str) -> str:
        """The fleet's CloudWatch dashboard (global: carries the region)."""
        return f"agentfleet-{self.fleet}-{region}"

    @property
    def log_group(self) -> str:
        return f"/agentfleet/{self.fleet}"

    @property
    def metric_namespace(self) -> str:
        """The only CloudWatch namespace agents may publish custom metrics to."""
        return f"agentfleet/{self.fleet}"

    def prefixed(self, role: str) -> str:
        """`{fleet}-{role}`: the Pulumi name of the child in `role` (`prefixed("agents-sg")`), and
        the AWS name of resources whose name needs nothing else (`prefixed("alarms")`)."""
        return f"{self.fleet}-{role}"


def tags(fleet: str, **extra: str) -> dict[str, str]:
    """Tags on every taggable resource: find a fleet's resources (and its bill) by its name."""
    return {"agentfleet:fleet": fleet, "ManagedBy": "agentfleet", **extra}


def network_tags(network: str, **extra: str) -> dict[str, str]:
    """Tags on the resources of a network several fleets share (named after its `FleetNetwork`):
    they belong to no one fleet, so they carry the network's name instead."""
    return {"agentfleet:network": network, "ManagedBy": "agentfleet", **extra}
