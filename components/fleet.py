"""`ScalableAgentFleet`: one `FleetConfig` in, one cloud's complete agent fleet out.

The component owns no cloud-specific code. It validates the config against the chosen cloud's
limits, computes the `ScalingPolicy`, and hands both to the cloud's provider package, which
creates every resource as a child of this component. The stack outputs are the same whatever
the cloud (docs/DESIGN.md, "Stack outputs").

Pulumi's analyzer reads this class's annotations at run time to infer the schema other languages
use (`plugin/`), so this module must not use `from __future__ import annotations`.
"""

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi

from agentfleet.components.args import FleetArgs, ScalableAgentFleetArgs, join_network, to_fleet_args
from agentfleet.components.network import program_key
from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import MISSING, ConfigError, ConfigProblem
from agentfleet.components.validation import check_cloud, validate_for_cloud
from agentfleet.providers import Target

TYPE_TOKEN = "agentfleet:index:ScalableAgentFleet"

if TYPE_CHECKING:
    # Type checkers see both forms; at run time the annotation is the TypedDict alone, the one
    # the analyzer can turn into a schema (it cannot read a Union).
    _Args = ScalableAgentFleetArgs | FleetArgs
else:
    _Args = ScalableAgentFleetArgs

__all__ = ["TYPE_TOKEN", "FleetArgs", "ScalableAgentFleet", "ScalableAgentFleetArgs"]


class ScalableAgentFleet(pulumi.ComponentResource):
    """An elastic, queue-driven agent fleet on any registered target (providers/__init__.py): a queue
    and dead-letter queue, agents that scale with the backlog, state, identity and alarms."""

    cloud: pulumi.Output[str]
    """The target the fleet runs on (agentfleet:cloud)."""
    queue: pulumi.Output[str]
    """Where work is sent: the queue (its URL, name or subscription, as the target names it)."""
    dead_letter_queue: pulumi.Output[str]
    """Where messages go after max_receive_count failed deliveries."""
    state_table: pulumi.Output[str | None]
    """The key-value state table, when state.table is on."""
    bucket: pulumi.Output[str | None]
    """The object store bucket or container, when state.bucket is on."""
    agent_group: pulumi.Output[str]
    """The group the agents run in (scaling group, scale set or Deployment)."""
    send_work: dict[str, pulumi.Output[str]]
    """What an operator needs to send work, by name (docs/DESIGN.md, "Stack outputs")."""

    def __init__(self, name: str, args: _Args, opts: pulumi.ResourceOptions | None = None) -> None:
        # Validate before registering anything: a bad config must leave nothing half-created.
        args, network = to_fleet_args(name, args)
        validate_for_cloud(args.cloud, args.config)
        chosen = check_cloud(args.cloud)
        _check_required_settings(chosen, opts)
        _claim_fleet_name(args.config.name)
        if network is not None:
            args = join_network(network, args, opts)
        if args.network is not None and args.network.cloud != args.cloud:
            raise ConfigError(
                [
                    ConfigProblem(
                        "cloud", args.cloud, f"must be the cloud of the shared network ({args.network.cloud})"
                    )
                ]
            )
        super().__init__(TYPE_TOKEN, name, None, opts)

        self.policy: ScalingPolicy = ScalingPolicy.from_config(args.config)
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


#: Fleet names registered by this program (`network.program_key`: its engine connection, one per
#: `pulumi up` and per mocked program a test runs; or the provider process that hosts it).
_NAMES_IN_USE: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()


def _claim_fleet_name(fleet: str) -> None:
    """A second fleet of the same name would register the same resource names (`orders-queue`,
    `orders-agent-role`, ...): a one-line error before anything of it registers."""
    taken = _NAMES_IN_USE.setdefault(program_key(), set())
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
