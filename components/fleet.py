"""`ScalableAgentFleet`: one `FleetConfig` in, one cloud's complete agent fleet out.

The component owns no cloud-specific code. It validates the config against the chosen cloud's
limits, computes the `ScalingPolicy`, and hands both to the cloud's provider package, which
creates every resource as a child of this component. The stack outputs are the same whatever
the cloud (docs/DESIGN.md, "Stack outputs").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.config import ConfigError, ConfigProblem, FleetConfig, validate_for_cloud
from components.policy import ScalingPolicy

TYPE_TOKEN = "agentfleet:index:ScalableAgentFleet"


@dataclass
class FleetResources:
    """What a provider hands back: the contract's outputs plus the resources it made.

    `queue` … `agent_group` are the stack outputs every cloud exports; `send_work` holds what an
    operator needs to enqueue (queue URL, namespace + queue, topic). `children` exposes the
    resources by role (e.g. "queue", "scaling_policy") so tests can assert on them directly —
    component outputs are not observable under Pulumi's mocks.
    """

    queue: pulumi.Input[str]
    dead_letter_queue: pulumi.Input[str]
    state_table: pulumi.Input[str] | None
    bucket: pulumi.Input[str] | None
    agent_group: pulumi.Input[str]
    send_work: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    children: dict[str, pulumi.Resource] = field(default_factory=dict)


@dataclass(frozen=True)
class FleetArgs:
    """The component's one typed input."""

    cloud: str
    config: FleetConfig


class ScalableAgentFleet(pulumi.ComponentResource):
    """An elastic, queue-driven agent fleet on AWS, Azure or GCP."""

    cloud: pulumi.Output[str]
    queue: pulumi.Output[str]
    dead_letter_queue: pulumi.Output[str]
    state_table: pulumi.Output[str | None]
    bucket: pulumi.Output[str | None]
    agent_group: pulumi.Output[str]
    send_work: dict[str, pulumi.Output[str]]
    policy: ScalingPolicy
    children: dict[str, pulumi.Resource]

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Validate before registering anything: a bad config must leave nothing half-created.
        validate_for_cloud(args.cloud, args.config)
        _check_required_settings(args.cloud)
        super().__init__(TYPE_TOKEN, name, None, opts)

        from providers import cloud_builder

        self.policy = ScalingPolicy.from_config(args.config)
        built = cloud_builder(args.cloud)(self, args.config, self.policy)

        self.cloud = pulumi.Output.from_input(args.cloud)
        self.queue = pulumi.Output.from_input(built.queue)
        self.dead_letter_queue = pulumi.Output.from_input(built.dead_letter_queue)
        self.state_table = pulumi.Output.from_input(built.state_table)
        self.bucket = pulumi.Output.from_input(built.bucket)
        self.agent_group = pulumi.Output.from_input(built.agent_group)
        self.send_work = {k: pulumi.Output.from_input(v) for k, v in built.send_work.items()}
        self.children = built.children
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, Any]:
        """The stack outputs of docs/DESIGN.md, identical keys on every cloud."""
        return {
            "cloud": self.cloud,
            "queue": self.queue,
            "dead_letter_queue": self.dead_letter_queue,
            "state_table": self.state_table,
            "bucket": self.bucket,
            "agent_group": self.agent_group,
            **self.send_work,
        }


def _check_required_settings(cloud: str) -> None:
    """Fail early, naming the key, when a setting the cloud needs (`gcp:project`) is missing."""
    from providers import required_settings

    problems = [
        ConfigProblem(key, None, allowed)
        for key, allowed in required_settings(cloud).items()
        if not pulumi.runtime.get_config(key)
    ]
    if problems:
        raise ConfigError(problems)
