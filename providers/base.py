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

from collections.abc import Callable, Mapping
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


class BuildFleet(Protocol):
    """Creates every resource of one fleet as a child of `parent` (the `ScalableAgentFleet`)."""

    def __call__(
        self, parent: pulumi.ComponentResource, config: FleetConfig, policy: ScalingPolicy
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
    build:             creates the resources; the only field that imports the cloud's SDK
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
    plan_settings: Mapping[str, list[str]]
    mocks: TargetMocks
    simulation: str
