"""GCP-specific bad configs: one exact message each, and nothing registered."""

from __future__ import annotations

import pytest

from agentfleet.components.problems import ConfigError
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers.gcp.settings import GcpSettings
from agentfleet.synth import synthesize
from tests.infra.helpers import BASE_FLEET, deep_merge, stack_config


def _error(fleet: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load_fleet_config("gcp", deep_merge(BASE_FLEET, fleet))
    return str(caught.value)


@pytest.mark.parametrize(
    ("fleet", "message"),
    [
        (
            {"queue": {"max_receive_count": 3}},
            "agentfleet: fleet.queue.max_receive_count=3 must be between 5 and 100 on GCP "
            "(Pub/Sub dead-letter policy max delivery attempts)",
        ),
        (
            {"queue": {"max_receive_count": 101}},
            "agentfleet: fleet.queue.max_receive_count=101 must be between 5 and 100 on GCP "
            "(Pub/Sub dead-letter policy max delivery attempts)",
        ),
        (
            {"queue": {"visibility_timeout_seconds": 601}},
            "agentfleet: fleet.queue.visibility_timeout_seconds=601 must be between 10 and 600 on GCP "
            "(Pub/Sub ack deadline; the runtime extends the lease for longer work)",
        ),
        (
            {"queue": {"retention_seconds": 300}},
            "agentfleet: fleet.queue.retention_seconds=300 must be between 600 and 604800 on GCP "
            "(Pub/Sub subscription retention: 10 minutes to 7 days)",
        ),
        (
            {"scaling": {"scale_in_cooldown_seconds": 7200}},
            "agentfleet: fleet.scaling.scale_in_cooldown_seconds=7200 must be <= 3600 on GCP "
            "(Kubernetes HPA scale-down stabilization window)",
        ),
        (
            {"name": "moodring-"},
            "agentfleet: fleet.name='moodring-' must end with a lowercase letter or digit on GCP "
            "(it names the Kubernetes namespace and the Google service accounts)",
        ),
        (
            {"name": "google-recon"},
            "agentfleet: fleet.name='google-recon' must not start with 'goog' or contain 'google' on GCP "
            "(Google reserves them in Pub/Sub topic and Cloud Storage bucket names)",
        ),
        (
            {"name": "my-google-bot"},
            "agentfleet: fleet.name='my-google-bot' must not start with 'goog' or contain 'google' on GCP "
            "(Google reserves them in Pub/Sub topic and Cloud Storage bucket names)",
        ),
        (
            {"name": "keda"},
            "agentfleet: fleet.name='keda' must not be 'default' or 'keda' or start with 'kube-' or 'gke-' "
            "on GCP (it names the fleet's own Kubernetes namespace)",
        ),
        (
            {"name": "default"},
            "agentfleet: fleet.name='default' must not be 'default' or 'keda' or start with 'kube-' or "
            "'gke-' on GCP (it names the fleet's own Kubernetes namespace)",
        ),
        (
            {"name": "kube-system"},
            "agentfleet: fleet.name='kube-system' must not be 'default' or 'keda' or start with 'kube-' or "
            "'gke-' on GCP (it names the fleet's own Kubernetes namespace)",
        ),
        (
            {"gcp": {"machine_type": "e2-micro"}},
            "agentfleet: fleet.gcp.machine_type='e2-micro' is too small for one agent (needs 250m CPU and "
            "512Mi memory besides GKE's reservations); use e.g. 'e2-standard-2'",
        ),
        (
            {"gcp": {"machine_type": "E2 Standard"}},
            "agentfleet: fleet.gcp.machine_type='E2 Standard' must be a Compute Engine machine type such as "
            "'e2-standard-2'",
        ),
        (
            {"gcp": {"cluster": "Prod_Cluster"}},
            "agentfleet: fleet.gcp.cluster='Prod_Cluster' must be the name of an existing GKE cluster in "
            "gcp:region (1-40 chars: lowercase letters, digits, '-')",
        ),
        (
            {"gcp": {"network": "https://example.com/vpc"}},
            "agentfleet: fleet.gcp.network='https://example.com/vpc' must be a VPC network name or "
            "'projects/PROJECT/global/networks/NAME'",
        ),
    ],
)
def test_bad_gcp_value_is_reported_exactly(fleet: dict, message: str) -> None:
    assert _error(fleet) == message


def test_keda_namespace_is_reserved_for_fleet_names() -> None:
    from agentfleet.providers.gcp.settings import KEDA_NAMESPACE, RESERVED_NAMESPACES

    assert KEDA_NAMESPACE in RESERVED_NAMESPACES


def test_every_gcp_problem_is_reported_at_once() -> None:
    lines = _error({"queue": {"max_receive_count": 1, "visibility_timeout_seconds": 5}}).splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "agentfleet: fleet.queue.visibility_timeout_seconds",
        "agentfleet: fleet.queue.max_receive_count",
    ]


def test_limits_that_other_clouds_allow_pass_on_gcp_when_in_range() -> None:
    config = load_fleet_config(
        "gcp",
        deep_merge(
            BASE_FLEET,
            {
                "queue": {
                    "max_receive_count": 100,
                    "visibility_timeout_seconds": 10,
                    "retention_seconds": 604_800,
                },
                "scaling": {"scale_in_cooldown_seconds": 3600},
                "gcp": {
                    "machine_type": "n2-custom-4-8192",
                    "network": "projects/acme/global/networks/agents",
                },
            },
        ),
    )
    assert config.settings_for(GcpSettings).machine_type == "n2-custom-4-8192"


def test_bad_config_stops_the_program_before_any_resource() -> None:
    with pytest.raises(ConfigError, match="fleet.queue.max_receive_count=3"):
        synthesize(stack_config("gcp", {"queue": {"max_receive_count": 3}}))


def test_missing_project_and_region_are_named() -> None:
    config = stack_config("gcp")
    del config["gcp:project"], config["gcp:region"]
    with pytest.raises(ConfigError) as caught:
        synthesize(config)
    assert str(caught.value).splitlines() == [
        "agentfleet: gcp:project must be set to the Google Cloud project id",
        "agentfleet: gcp:region must be set to a Google Cloud region such as europe-west1",
    ]
