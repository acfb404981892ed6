"""The ScaledObject the GCP program writes asks for what the neutral ScalingPolicy asks for.

KEDA activates a Deployment at zero when the metric is above `activationThreshold`; above zero the
HPA computes `ceil(metric / threshold)` for an `AverageValue` external metric, clamped to
min..max (Kubernetes HPA algorithm, ignoring its 10 % tolerance band). The metric is
`num_undelivered_messages`, which counts waiting and leased messages alike.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentfleet.components.policy import ScalingPolicy
from agentfleet.components.validation import parse_fleet
from tests.infra.gcp_helpers import gcp_synth
from tests.infra.helpers import BASE_FLEET, deep_merge

FLEET = {"scaling": {"min_agents": 0, "max_agents": 30, "target_backlog_per_agent": 7}}


def keda_desired(spec: dict[str, Any], undelivered: int) -> int:
    trigger = spec["triggers"][0]["metadata"]
    threshold, activation = float(trigger["threshold"]), float(trigger["activationThreshold"])
    low, high = int(spec["minReplicaCount"]), int(spec["maxReplicaCount"])
    if undelivered <= activation:
        return low
    return max(max(low, 1), min(high, math.ceil(undelivered / threshold)))


SPEC = gcp_synth(FLEET).one("kubernetes:keda.sh/v1alpha1:ScaledObject").inputs["spec"]
POLICY = ScalingPolicy.from_config(parse_fleet(deep_merge(BASE_FLEET, FLEET)))


@settings(max_examples=300, deadline=None)
@given(waiting=st.integers(min_value=0, max_value=1000), in_flight=st.integers(min_value=0, max_value=300))
def test_keda_asks_for_what_the_policy_asks_for(waiting: int, in_flight: int) -> None:
    assert keda_desired(SPEC, waiting + in_flight) == POLICY.desired_agents(waiting, in_flight)
