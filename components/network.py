"""`FleetNetwork`: what the fleets of one stack share, built once.

Two fleets of a team (orders, emails) run in one network (and cluster, where the target has
one) with one NAT and one log workspace, and keep apart what must be apart: queue, dead-letter
queue, identity, state and scaling, each in its own `ScalableAgentFleet` (docs/DESIGN.md,
"Several fleets"). The network's settings are those of the config it is built from (the first
fleet's `fleet.<cloud>` network keys); the target's `build_shared` says which those are.

One fleet alone needs no `FleetNetwork`: it builds its own network as its children.
"""

from __future__ import annotations

import sys
import weakref

import pulumi

from agentfleet.components.schema import FleetConfig
from agentfleet.components.validation import check_cloud, validate_for_cloud
from agentfleet.providers.base import FleetInputs

TYPE_TOKEN = "agentfleet:index:FleetNetwork"


class FleetNetwork(pulumi.ComponentResource):
    """The shared network of several `ScalableAgentFleet`s on one cloud."""

    cloud: str
    #: The target's own record of what it built (its `build` takes it back as `shared=`).
    resources: object

    def __init__(
        self,
        name: str,
        cloud: str,
        config: FleetConfig,
        inputs: FleetInputs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        validate_for_cloud(cloud, config)
        chosen = check_cloud(cloud)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.cloud = cloud
        self.resources = chosen.build_shared(self, config, inputs or FleetInputs())
        _networks().setdefault(name, self)
        self.register_outputs({})


#: The networks of this program by name, per engine connection (one per `pulumi up`, one per
#: mocked program a test runs), so a fleet can name the network it joins (`network: shared`).
_BY_NAME: weakref.WeakKeyDictionary[object, dict[str, FleetNetwork]] = weakref.WeakKeyDictionary()


class _HostedRun:
    """One deployment a provider process serves (`plugin/`), as its construct calls name it."""


#: (organization, project, stack, preview) -> the run: `pulumi up` previews, then updates.
_HOSTED_RUNS: dict[tuple[object, ...], _HostedRun] = {}


def program_key() -> object:
    """What stands for "this program": its engine connection, or, in the component provider host
    (which reconnects to the engine for every component it constructs), the deployment."""
    # Looked up, not imported: a program that is not hosted must not load pulumi.provider, whose
    # copy of the rpc Status message clashes with a cloud SDK's in protobuf's pool (tests/plugin/host.py).
    host = sys.modules.get("pulumi.provider.experimental.host")
    settings = pulumi.runtime.settings.SETTINGS
    if not getattr(host, "is_hosting", False):
        return settings.monitor
    run = (settings.organization, settings.project, settings.stack, settings.dry_run)
    return _HOSTED_RUNS.setdefault(run, _HostedRun())


def _networks() -> dict[str, FleetNetwork]:
    return _BY_NAME.setdefault(program_key(), {})


def network_named(name: str) -> FleetNetwork | None:
    """The `FleetNetwork` of this program called `name`, if one was built."""
    return _networks().get(name)
