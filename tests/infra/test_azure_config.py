"""Azure-specific bad configs stop the program before any resource, with one exact message each."""

from __future__ import annotations

import pytest

from agentfleet.components.problems import ConfigError
from agentfleet.components.validation import load_fleet_config
from agentfleet.providers.azure import queue as azure_queue
from agentfleet.providers.azure import settings
from tests.infra.helpers import BASE_FLEET, deep_merge, stack_config, synth


def errors(fleet: dict) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_fleet_config("azure", deep_merge(BASE_FLEET, fleet))
    return [str(p) for p in exc.value.problems]


def test_drain_longer_than_the_terminate_notification_allows() -> None:
    assert errors({"agent": {"drain_timeout_seconds": 871}}) == [
        "agentfleet: fleet.agent.drain_timeout_seconds=871 must be <= 870 on Azure: a scale set's "
        "terminate notification delays deletion by 5 to 15 minutes at most, and the drain needs 30 s "
        "of margin within it"
    ]


def test_drain_of_870_seconds_fits() -> None:
    load_fleet_config("azure", deep_merge(BASE_FLEET, {"agent": {"drain_timeout_seconds": 870}}))


def test_max_delivery_count_above_service_bus_limit() -> None:
    assert errors({"queue": {"max_receive_count": 2_001}}) == [
        "agentfleet: fleet.queue.max_receive_count=2001 must be between 1 and 2000 "
        "(Service Bus max delivery count)"
    ]


def test_scale_in_cooldown_below_one_minute() -> None:
    assert errors({"scaling": {"scale_in_cooldown_seconds": 30}}) == [
        "agentfleet: fleet.scaling.scale_in_cooldown_seconds=30 must be >= 60 on Azure: autoscale cooldowns "
        "are 1 minute to 1 week"
    ]


def test_spot_on_a_b_series_size() -> None:
    assert errors({"compute": {"spot": True}}) == [
        "agentfleet: fleet.azure.vm_size='Standard_B2s' must not be a B-series size when "
        "fleet.compute.spot=true: Azure Spot VMs are not offered on B-series sizes "
        "(choose e.g. 'Standard_D2as_v5')"
    ]


def test_vm_size_that_is_not_an_azure_size() -> None:
    assert errors({"azure": {"vm_size": "t3.small"}}) == [
        "agentfleet: fleet.azure.vm_size='t3.small' must be an Azure VM size such as 'Standard_D2as_v5'"
    ]


def test_fleet_name_ending_with_a_hyphen() -> None:
    # The neutral pattern allows it; the Service Bus queue (named after the fleet) does not.
    assert errors({"name": "moodring-"}) == [
        "agentfleet: fleet.name='moodring-' must end with a letter or digit on Azure: the Service Bus "
        "queue is named after the fleet, and queue names end with a letter or digit"
    ]


def test_fleet_name_with_consecutive_hyphens_and_a_cache() -> None:
    assert errors({"name": "mood--ring", "state": {"cache": True}}) == [
        "agentfleet: fleet.name='mood--ring' must not contain '--' on Azure when fleet.state.cache=true: "
        "the cache is named after the fleet, and Azure Managed Redis names can't contain consecutive "
        "hyphens"
    ]


RESERVED_NAMES = [
    ("windows-agents", "windows"),
    ("my-microsoft1", "microsoft"),
    ("win-dows-agents", "windows"),  # the storage account's name drops the hyphens
    ("login-fleet", "login"),
]


@pytest.mark.parametrize(("name", "word"), RESERVED_NAMES)
def test_fleet_name_with_a_word_azure_reserves(name: str, word: str) -> None:
    assert errors({"name": name}) == [
        f"agentfleet: fleet.name='{name}' must not contain '{word}' on Azure: the Service Bus namespace and "
        "storage account are named after the fleet, and Azure refuses public endpoint names with "
        "'microsoft' or 'windows' anywhere or 'login' at the start (ReservedResourceName)"
    ]


def test_fleet_name_with_login_later_on_is_fine() -> None:
    load_fleet_config("azure", deep_merge(BASE_FLEET, {"name": "my-login-fleet"}))


def test_fleet_name_with_consecutive_hyphens_is_fine_without_a_cache() -> None:
    load_fleet_config("azure", deep_merge(BASE_FLEET, {"name": "mood--ring"}))


def test_every_azure_problem_is_reported_at_once() -> None:
    found = errors(
        {
            "agent": {"drain_timeout_seconds": 1_000},
            "scaling": {"scale_in_cooldown_seconds": 0},
            "compute": {"spot": True},
        }
    )
    fields = [line.split("=", 1)[0] for line in found]
    assert fields == [
        "agentfleet: fleet.agent.drain_timeout_seconds",
        "agentfleet: fleet.scaling.scale_in_cooldown_seconds",
        "agentfleet: fleet.azure.vm_size",
    ]


def test_bad_config_stops_the_program() -> None:
    with pytest.raises(ConfigError, match=r"fleet\.azure\.vm_size='Standard_B2s' must not be a B-series"):
        synth("azure", {"compute": {"spot": True}})


def test_long_visibility_is_not_an_error_but_explained() -> None:
    config = load_fleet_config(
        "azure", deep_merge(BASE_FLEET, {"queue": {"visibility_timeout_seconds": 1_800}})
    )
    assert azure_queue.lock_duration_seconds(config) == 300
    assert azure_queue.lock_clamp_message(config) == (
        "agentfleet: fleet.queue.visibility_timeout_seconds=1800 is above Service Bus's 300 s lock maximum: "
        "the queue's lock_duration is PT5M and the agent renews the lock while it works, up to 1800 s"
    )


def test_short_visibility_needs_no_explanation() -> None:
    config = load_fleet_config(
        "azure", deep_merge(BASE_FLEET, {"queue": {"visibility_timeout_seconds": 300}})
    )
    assert azure_queue.lock_clamp_message(config) is None


def test_missing_location_is_named() -> None:
    config = stack_config("azure")
    del config["azure-native:location"]
    from agentfleet.synth import synthesize

    with pytest.raises(ConfigError) as exc:
        synthesize(config)
    assert str(exc.value) == (
        "agentfleet: azure-native:location must be set for an Azure stack: "
        "pulumi config set azure-native:location westeurope"
    )


@pytest.mark.parametrize(
    ("seconds", "iso"),
    [(0, "PT0S"), (45, "PT45S"), (60, "PT1M"), (90, "PT1M30S"), (300, "PT5M"), (3_660, "PT1H1M"),
     (86_400, "P1D"), (345_600, "P4D"), (1_209_600, "P14D"), (90_061, "P1DT1H1M1S")],
)  # fmt: skip
def test_iso_durations(seconds: int, iso: str) -> None:
    assert settings.iso_duration(seconds) == iso
