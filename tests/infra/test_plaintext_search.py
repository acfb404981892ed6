"""The search the secrets tests rely on (`plaintext_holders`) must find a plain value wherever a
cloud carries it, base64-encoded EC2 user data and Azure userData included, or every "no
plaintext anywhere" assertion would pass vacuously."""

from __future__ import annotations

import pytest

from tests.infra.helpers import plaintext_holders, synth

PLAIN = "visible-in-the-agent-env-4711"
CARRIER = {
    "aws": "aws:ec2/launchTemplate:LaunchTemplate",
    "azure": "azure-native:compute:VirtualMachineScaleSet",
    "gcp": "kubernetes:apps/v1:Deployment",
}


@pytest.mark.parametrize("cloud", sorted(CARRIER))
def test_a_value_in_agent_env_is_found_where_each_cloud_carries_it(cloud: str) -> None:
    holders = plaintext_holders(synth(cloud, {"agent": {"env": {"NOT_A_SECRET": PLAIN}}}), PLAIN)
    assert any(h.startswith(CARRIER[cloud]) for h in holders), holders
