"""What a target supplies: the whole interface between the cloud-neutral model and one cloud.

A target is a package `providers/<name>/` whose `__init__.py` defines `TARGET = Target(...)` and
imports no cloud SDK; the registry (`providers/__init__.py`) lists it in one line. Everything
the component, the loader, `agentfleet plan` and the tests need from a target is a field here,
so what a new target must write is this record and the modules its fields point at
(docs/DESIGN.md, "Adding a target").

The record is read before any resource exists (validation, required settings, mocks) and only
`build` imports the cloud's Pulumi SDK, when the stack has chosen that cloud.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.problems import ConfigProblem
from agentfleet.components.schema import FleetConfig, TargetSettings

if TYPE_CHECKING:
    import pulumi


@dataclass
class FleetResources:
    """What a target's `build` hands back: the stack outputs every cloud exports.

    `queue` … `agent_group` have the same keys on every cloud (docs/DESIGN.md, "Stack outputs");
    `send_work` holds what an operator needs to enqueue (queue URL, namespace + queue, topic).
    """

    queue: pulumi.Input[str]
    dead_letter_queue: pulumi.Input[str]
    state_table: pulumi.Input[str] | None
    bucket: pulumi.Input[str] | None
    agent_group: pulumi.Input[str]
    send_work: dict[str, pulumi.Input[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FleetInputs:
    """Values that come from other resources of the user's program, as `pulumi.Input`s.

    Each takes the place of the config key named beside it (which then stays unset); a target
    that has no such thing ignores the field and says so in its docs:

        image       agent.image: the container image, built in the same stack
        network_id  the network to join: AWS VPC id (fleet.aws.vpc_id), GCP network
                    (fleet.gcp.network); Azure takes its subnet only
        subnet_ids  the subnets agents run in: AWS private subnet ids (fleet.aws.subnet_ids),
                    Azure `[subnet id]` (fleet.azure.subnet_id), GCP `[subnetwork]`
                    (fleet.gcp.subnetwork)
        cluster_id  an existing cluster to run in (GCP: fleet.gcp.cluster)
    """

    image: pulumi.Input[str] | None = None
    network_id: pulumi.Input[str] | None = None
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    cluster_id: pulumi.Input[str] | None = None


class BuildShared(Protocol):
    """Creates what the fleets of one stack share (the network, NAT, cluster and node pools, log
    workspace) as children of `parent` (a `FleetNetwork`), from the network settings of `config`;
    returns the target's own record of it, which its `build` takes back as `shared=`."""

    def __call__(self, parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> Any: ...


class BuildFleet(Protocol):
    """Creates every resource of one fleet as a child of `parent` (the `ScalableAgentFleet`).

    `shared` is what the target's `build_shared` returned for the network the fleet shares with
    others, or None: then the fleet builds its own, as children of `parent` (one fleet per stack:
    the same resources, names and parents as before fleets could share)."""

    def __call__(
        self,
        parent: pulumi.ComponentResource,
        config: FleetConfig,
        policy: ScalingPolicy,
        *,
        shared: Any | None,
        inputs: FleetInputs,
    ) -> FleetResources: ...


class MockResourceOutputs(Protocol):
    """Pulumi mock answer for a new resource: `(id, state)` with the computed outputs a cloud returns."""

    def __call__(
        self, typ: str, name: str, inputs: dict[str, Any], config: Mapping[str, str], /
    ) -> tuple[str, dict[str, Any]]: ...


class MockInvoke(Protocol):
    """Pulumi mock answer for an invoke (`aws:index/getRegion:getRegion`), for offline synthesis."""

    def __call__(self, token: str, args: dict[str, Any], config: Mapping[str, str], /) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TargetMocks:
    """Realistic computed outputs (ARNs, URLs, ids) so the real program runs offline."""

    resource_outputs: MockResourceOutputs
    invoke: MockInvoke
    #: Values the mocks make up that look real (an account id, an AMI id), with what each stands
    #: for; `agentfleet plan` labels every value holding one.
    stand_ins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """One deployment target, as the registry lists it.

    name:              the `agentfleet:cloud` value and the key of the fleet's section (`aws`)
    settings:          the `fleet.<name>` section's model; every key has a default
    validate:          the target's own limits on a whole config (SQS's 12-hour visibility, ...),
                       returning every problem at once; imports no SDK
    required_settings: provider config keys the target cannot do without (`gcp:project`), with
                       the message shown when one is missing
    build:             creates one fleet's resources; with `build_shared`, the only fields
                       that import the cloud's SDK
    build_shared:      creates what several fleets of one stack share (docs/DESIGN.md,
                       "Several fleets")
    plan_settings:     for `agentfleet plan`, the inputs worth showing per resource type
                       (dotted paths, `[*]` for every list item)
    mocks:             answers for Pulumi's mock runtime
    simulation:        "module:function" of the model of the target's autoscaling loop, a
                       `components.simulation.ModelFactory` (`agentfleet simulate`); imported
                       only when a simulation runs
    """

    name: str
    settings: type[TargetSettings]
    validate: Callable[[FleetConfig], list[ConfigProblem]]
    required_settings: Mapping[str, str]
    build: BuildFleet
    build_shared: BuildShared
    plan_settings: Mapping[str, list[str]]
    mocks: TargetMocks
    simulation: str


def builders_in(fleet_module: str, shared_module: str | None = None) -> tuple[BuildFleet, BuildShared]:
    """A target's `build` and `build_shared`, importing `fleet_module` (its `build`) and
    `shared_module` (its `build_shared`; the fleet module when None) only when called: the cloud's
    SDK loads only for a stack that chose the cloud."""

    def build(
        parent: pulumi.ComponentResource,
        config: FleetConfig,
        policy: ScalingPolicy,
        *,
        shared: Any | None,
        inputs: FleetInputs,
    ) -> FleetResources:
        built: FleetResources = importlib.import_module(fleet_module).build(
            parent, config, policy, shared=shared, inputs=inputs
        )
        return built

    def build_shared(parent: pulumi.ComponentResource, config: FleetConfig, inputs: FleetInputs) -> Any:
        return importlib.import_module(shared_module or fleet_module).build_shared(parent, config, inputs)

    return build, build_shared
