"""What `ScalableAgentFleet` takes: `FleetArgs` from Python, `ScalableAgentFleetArgs` from any language.

`ScalableAgentFleetArgs` is the schema other Pulumi languages see: Pulumi's analyzer
(`pulumi.provider.experimental`) reads this TypedDict's annotations and docstrings as they are at
run time, so this module must not use `from __future__ import annotations` (the annotations would
be strings, and the analyzer fails on them). `to_fleet_args` turns it into the validated
`FleetArgs` the component builds from, every problem one line naming the field.

The config decides which resources exist, so it must be known when the program runs: an Output
anywhere in it (a value of another resource, unknown in a preview) is refused by name. Values of
other resources go in `image`, `network_id`, `subnet_ids` and `cluster_id`, which stay Inputs.
"""

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NotRequired, TypedDict

import pulumi

from agentfleet.components.network import FleetNetwork, network_named
from agentfleet.components.problems import MISSING, ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers import TARGETS
from agentfleet.providers.base import FleetInputs

#: What `agent.image` holds, for validation only, when the image comes from the `image` input; a
#: target takes `FleetInputs.image` in its place (providers/base.py).
IMAGE_FROM_INPUT = "image.from-input.invalid/agentfleet:from-input"


@dataclass(frozen=True)
class FleetArgs:
    """The component's validated input, as Python programs (and `components/program.py`) build it.

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


class ScalableAgentFleetArgs(TypedDict):
    """The inputs of a ScalableAgentFleet, from Python or any Pulumi language."""

    cloud: pulumi.Input[str]
    """The target to deploy to (agentfleet:cloud); known when the program runs, not an output."""

    config: pulumi.Input[Mapping[str, Any]]
    """The fleet, shaped like agentfleet:fleet (docs/configuration.md); name defaults to the resource name."""

    image: NotRequired[pulumi.Input[str]]
    """The agent's container image (a repository URL and tag of another resource), in place of agent.image."""

    network_id: NotRequired[pulumi.Input[str]]
    """An existing network to join, in place of the target's network key (docs/configuration.md)."""

    subnet_ids: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """The subnets agents run in, in place of the target's subnet key (docs/configuration.md)."""

    cluster_id: NotRequired[pulumi.Input[str]]
    """An existing cluster to run in, on a target that runs agents in one."""

    network: NotRequired[str]
    """A shared network's name: the first fleet naming it builds that FleetNetwork, the others join it."""


#: Where in the config a value from another resource goes instead.
_INPUT_FOR = "values of other resources go in image, network_id, subnet_ids or cluster_id"


def to_fleet_args(name: str, args: FleetArgs | Mapping[str, Any]) -> tuple[FleetArgs, str | None]:
    """`args` as `FleetArgs`, and the name of the network it shares (`join_network` builds or finds
    it once the fleet passed its own checks); a `ScalableAgentFleetArgs` is validated whole, every
    problem named. Registers nothing."""
    if isinstance(args, FleetArgs):
        return args, None
    if not isinstance(args, Mapping):
        raise ConfigError(
            [ConfigProblem("args", type(args).__name__, "must be a ScalableAgentFleetArgs dict")]
        )
    problems = _unknown_keys(args)
    cloud = args.get("cloud")
    if cloud is None:
        problems.append(ConfigProblem("cloud", MISSING, f"is required: one of {', '.join(TARGETS)}"))
    elif not isinstance(cloud, str):
        problems.append(
            _not_plain(
                "cloud", cloud, f"must be a string known when the program runs: one of {', '.join(TARGETS)}"
            )
        )
    network = args.get("network")
    if network is not None and not isinstance(network, str):
        problems.append(
            _not_plain(
                "network", network, "must be the name (a plain string) of a FleetNetwork of this program"
            )
        )
    raw = args.get("config")
    if raw is None:
        problems.append(
            ConfigProblem("config", MISSING, "is required: the fleet, shaped like agentfleet:fleet")
        )
        raise ConfigError(problems)
    problems += _outputs_in(raw, "config")
    if problems:
        raise ConfigError(problems)
    image = args.get("image")
    raw = _with_defaults(raw, name=name, image_from_input=image is not None)
    config = load_fleet_config(cloud, raw, where="config")
    inputs = FleetInputs(
        image=image,
        network_id=args.get("network_id"),
        subnet_ids=args.get("subnet_ids"),
        cluster_id=args.get("cluster_id"),
    )
    assert isinstance(cloud, str)
    return FleetArgs(cloud=cloud, config=config, inputs=inputs), network


def join_network(network: str, args: FleetArgs, opts: pulumi.ResourceOptions | None) -> FleetArgs:
    """`args` sharing the `FleetNetwork` called `network`, built from this fleet's config and inputs
    when no fleet of the program built it yet."""
    shared = network_named(network) or FleetNetwork(
        network, args.cloud, args.config, args.inputs, opts=_network_options(opts)
    )
    return replace(args, network=shared)


def _unknown_keys(args: Mapping[str, Any]) -> list[ConfigProblem]:
    known = list(ScalableAgentFleetArgs.__annotations__)
    problems = []
    for key in args:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]}?" if close else f" ({', '.join(known)} are)"
            problems.append(ConfigProblem(str(key), None, "is not an argument of ScalableAgentFleet" + hint))
    return problems


def _not_plain(key: str, value: Any, allowed: str) -> ConfigProblem:
    if isinstance(value, pulumi.Output):
        return ConfigProblem(key, None, f"is an Output (a value of another resource): it {allowed}")
    return ConfigProblem(key, value, allowed)


def _outputs_in(value: Any, path: str) -> list[ConfigProblem]:
    """Every Output (or awaitable) inside the config, by its path: none can be read when the program
    decides which resources to create (in a preview, it has no value at all)."""
    if isinstance(value, pulumi.Output | pulumi.output.Unknown) or hasattr(value, "__await__"):
        return [
            ConfigProblem(
                path,
                None,
                "is an Output (a value of another resource): the config must be known when the program "
                f"runs, as it decides which resources exist; {_INPUT_FOR}",
            )
        ]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _outputs_in(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _outputs_in(v, f"{path}[{i}]")]
    return []


def _with_defaults(raw: Any, *, name: str, image_from_input: bool) -> Any:
    """The config with `name` defaulting to the resource's name and, when the image is an input,
    `agent.image` standing in for it (both given is an error: one would be ignored)."""
    if not isinstance(raw, Mapping):
        return raw  # load_fleet_config names the problem
    out = dict(raw)
    out.setdefault("name", name)
    agent = out.get("agent")
    if image_from_input:
        if isinstance(agent, Mapping) and "image" in agent:
            raise ConfigError(
                [
                    ConfigProblem(
                        "config.agent.image", agent["image"], "is set together with the image input: give one"
                    )
                ]
            )
        out["agent"] = {**(agent if isinstance(agent, Mapping) else {}), "image": IMAGE_FROM_INPUT}
    return out


def _network_options(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """A network built on a fleet's behalf sits beside the fleet (same parent and providers), not
    under it: the other fleets sharing it must not depend on this one's lifetime."""
    if opts is None:
        return pulumi.ResourceOptions()
    given = opts.providers
    providers = list(given.values()) if isinstance(given, Mapping) else list(given or [])
    return pulumi.ResourceOptions(parent=opts.parent, providers=providers, provider=opts.provider)
