"""Where a fleet's resources go: the project and region of the `gcp` provider it uses.

An explicit provider passed to the component (`opts=ResourceOptions(providers={"gcp": ...})`)
places everything in its project and region; without one the default provider reads gcp:project
and gcp:region. Asking the provider (the `getClientConfig` invoke, with the component as parent)
gives the same answer as the resources get, whichever provider that is.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.problems import MISSING, ConfigError, ConfigProblem
from agentfleet.providers.gcp.settings import Placement


def placement_of(parent: pulumi.Resource) -> Placement:
    """The project and region of the `gcp` provider `parent`'s resources use: one passed to the
    component, else the default provider's (gcp:project, gcp:region). The invoke runs with `parent`
    so it asks the same provider the resources are created with."""
    client = gcp.organizations.get_client_config(opts=pulumi.InvokeOptions(parent=parent))
    problems = [
        ConfigProblem(key, MISSING, f"must be set on the gcp provider the fleet uses ({allowed})")
        for key, value, allowed in (
            ("gcp:project", client.project, "a Google Cloud project id"),
            ("gcp:region", client.region, "a region such as europe-west1"),
        )
        if not value
    ]
    if problems:
        raise ConfigError(problems)
    return Placement(project=client.project, region=client.region)
