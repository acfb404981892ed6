"""`agentfleet:network` names the network several fleets share, so two multi-fleet stacks in one
account, subscription or project need not collide on `shared-…` names."""

from __future__ import annotations

import pytest

from tests.infra.helpers import synth_fleets

FLEETS = [{"name": "orders"}, {"name": "emails"}]


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_the_shared_network_and_its_cloud_names_take_the_configured_name(cloud: str) -> None:
    s = synth_fleets(cloud, FLEETS, **{"agentfleet:network": "prod-net"})
    network = s.one("agentfleet:index:FleetNetwork")
    assert network.name == "prod-net"
    children = [r for r in s.resources if r.parent == network.urn]
    assert children, "the network built its resources under the component"
    assert all(r.name.startswith("prod-net") for r in children), [r.name for r in children]
    assert not [r.name for r in s.resources if r.name.startswith("shared")]
