"""`ScalableAgentFleet`: one `FleetConfig` in, one cloud's complete agent fleet out.

The component owns no cloud-specific code. It validates the config against the chosen cloud's
limits, computes the `ScalingPolicy`, and hands both to the cloud's provider package, which
creates every resource as a child of this component. The stack outputs are the same whatever
the cloud (docs/DESIGN.md, "Stack outputs").
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from agentfleet.components.network import FleetNetwork
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import MISSING, ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import check_cloud, validate_for_cloud
from agentfleet.providers import Target
from agentfleet.providers.base import FleetInputs

TYPE_TOKEN = "agentfleet:index:ScalableAgentFleet"


@dataclass(frozen=True)
class FleetArgs:
    """The component's one typed input.

    cloud:    the name of a registered target (providers/__init__.py)
    config:   the validated fleet config (`agentfleet:fleet`, or one item of `agentfleet:fleets`)
    network:  a `FleetNetwork` shared with other fleets of the stack; None builds the fleet's own
    inputs:   values that come from other resources (an image built in the same stack, a VPC),
              each in place of its config key (providers/base.py `FleetInputs`)
    """

    cloud: str
    config: FleetConfig
    network: FleetNetwork | None = None
    inputs: FleetInputs = field(default_factory=FleetInputs)


class ScalableAgentFleet(pulumi.ComponentResource):
    """An elastic, queue-driven agent fleet on any registered target (providers/__init__.py)."""

    cloud: pulumi.Output[str]
    queue: pulumi.Output[str]
    dead_letter_queue: pulumi.Output[str]
    state_table: pulumi.Output[str | None]
    bucket: pulumi.Output[str | None]
    agent_group: pulumi.Output[str]
    send_work: dict[str, pulumi.Output[str]]
    policy: ScalingPolicy

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Validate before registering anything: a bad config must leave nothing half-created.
        validate_for_cloud(args.cloud, args.config)
        chosen = check_cloud(args.cloud)
        _check_required_settings(chosen, opts)
        if args.network is not None and args.network.cloud != args.cloud:
            raise ConfigError(
                [
                    ConfigProblem(
                        "cloud", args.cloud, f"must be the cloud of the shared network ({args.network.cloud})"
                    )
                ]
            )
        _claim_fleet_name(args.config.name)
        super().__init__(TYPE_TOKEN, name, None, opts)

        self.policy = ScalingPolicy.from_config(args.config)
        built = chosen.build(
            self,
            args.config,
            self.policy,
            shared=args.network.resources if args.network else None,
            inputs=args.inputs,
        )

        self.cloud = pulumi.Output.from_input(args.cloud)
        self.queue = pulumi.Output.from_input(built.queue)
        self.dead_letter_queue = pulumi.Output.from_input(built.dead_letter_queue)
        self.state_table = pulumi.Output.from_input(built.state_table)
        self.bucket = pulumi.Output.from_input(built.bucket)
        self.agent_group = pulumi.Output.from_input(built.agent_group)
        self.send_work = {k: pulumi.Output.from_input(v) for k, v in built.send_work.items()}
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


#: Fleet names registered by this program, per engine connection (the resource monitor: one per
#: `pulumi up`, and a new one for each mocked program a test runs).
_NAMES_IN_USE: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()


def _claim_fleet_name(fleet: str) -> None:
    """A second fleet of the same name would register the same resource names (`orders-queue`,
    `orders-agent-role`, ...): a one-line error before anything of it registers."""
    taken = _NAMES_IN_USE.setdefault(pulumi.runtime.settings.SETTINGS.monitor, set())
    if fleet in taken:
        raise ConfigError(
            [
                ConfigProblem(
                    "name",
                    fleet,
                    "is already the name of another fleet in this stack: resource names derive from "
                    "it, so every fleet needs its own",
                )
            ]
        )
    taken.add(fleet)


def _check_required_settings(chosen: Target, opts: pulumi.ResourceOptions | None) -> None:
    """Fail early, naming the key, when a provider setting the target needs is missing. A setting
    of a package the component was given an explicit provider for (`providers={PACKAGE: p}`) is
    that provider's to hold: the target asks it (an invoke with the component as parent)."""
    explicit = _explicit_packages(opts)
    problems = [
        ConfigProblem(key, MISSING, allowed)
        for key, allowed in chosen.required_settings.items()
        if key.partition(":")[0] not in explicit and not pulumi.runtime.get_config(key)
    ]
    if problems:
        raise ConfigError(problems)


def _explicit_packages(opts: pulumi.ResourceOptions | None) -> set[str]:
    """The packages the component's options name a provider for."""
    if opts is None:
        return set()
    given: list[pulumi.ProviderResource] = []
    if opts.provider is not None:
        given.append(opts.provider)
    if isinstance(opts.providers, Mapping):
        return {*opts.providers, *(p.package for p in given)}
    given += list(opts.providers or [])
    return {p.package for p in given}
