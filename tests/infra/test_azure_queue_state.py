"""Service Bus and Storage: the numbers from the config, and the security settings that matter."""

from __future__ import annotations

import pytest

from agentfleet.synth import Synthesis, synthesize
from tests.infra.helpers import stack_config, synth

NAMESPACE = "azure-native:servicebus:Namespace"
QUEUE = "azure-native:servicebus:Queue"
ACCOUNT = "azure-native:storage:StorageAccount"
TABLE = "azure-native:storage:Table"
CONTAINER = "azure-native:storage:BlobContainer"
REDIS = "azure-native:redisenterprise:RedisEnterprise"
REDIS_DB = "azure-native:redisenterprise:Database"
RG = "azure-native:resources:ResourceGroup"


@pytest.fixture(scope="module")
def stack() -> Synthesis:
    return synth(
        "azure",
        {"queue": {"visibility_timeout_seconds": 120, "max_receive_count": 7, "retention_seconds": 172_800}},
    )


def test_namespace_is_standard_tls12_and_entra_only(stack: Synthesis) -> None:
    ns = stack.one(NAMESPACE).inputs
    assert ns["sku"] == {"name": "Standard", "tier": "Standard"}
    assert ns["minimumTlsVersion"] == "1.2"
    assert ns["disableLocalAuth"] is True
    assert ns["resourceGroupName"] == stack.one(RG).outputs["resourceGroupName"]


def test_queue_lives_in_this_namespace(stack: Synthesis) -> None:
    queue, ns = stack.one(QUEUE), stack.one(NAMESPACE)
    assert queue.inputs["namespaceName"] == ns.outputs["namespaceName"]
    assert queue.id.startswith(ns.id + "/queues/")


def test_queue_numbers_come_from_config(stack: Synthesis) -> None:
    q = stack.one(QUEUE).inputs
    assert q["lockDuration"] == "PT2M"
    assert q["maxDeliveryCount"] == 7
    assert q["defaultMessageTimeToLive"] == "P2D"
    assert q["deadLetteringOnMessageExpiration"] is True


def test_lock_duration_is_clamped_to_five_minutes() -> None:
    s = synth("azure", {"queue": {"visibility_timeout_seconds": 3_600}})
    assert s.one(QUEUE).inputs["lockDuration"] == "PT5M"


def test_default_retention_is_four_days() -> None:
    assert synth("azure").one(QUEUE).inputs["defaultMessageTimeToLive"] == "P4D"


def test_storage_account_is_locked_down(stack: Synthesis) -> None:
    acct = stack.one(ACCOUNT).inputs
    assert acct["minimumTlsVersion"] == "TLS1_2"
    assert acct["allowBlobPublicAccess"] is False
    assert acct["enableHttpsTrafficOnly"] is True
    assert acct["allowSharedKeyAccess"] is False


def test_storage_account_name_is_valid_and_stable(stack: Synthesis) -> None:
    name = stack.one(ACCOUNT).inputs["accountName"]
    assert 3 <= len(name) <= 24 and name.isalnum() and name.islower()
    assert name.startswith("moodring")
    assert synth("azure").one(ACCOUNT).inputs["accountName"] == name  # same group -> same name


def test_table_and_container_live_in_this_account(stack: Synthesis) -> None:
    acct = stack.one(ACCOUNT).outputs["accountName"]
    assert stack.one(TABLE).inputs["accountName"] == acct
    container = stack.one(CONTAINER).inputs
    assert container["accountName"] == acct
    assert container["publicAccess"] == "None"


def test_stack_outputs_point_at_this_fleet(stack: Synthesis) -> None:
    acct = stack.one(ACCOUNT).outputs["accountName"]
    ns = stack.one(NAMESPACE).outputs["namespaceName"]
    out = stack.outputs
    assert out["cloud"] == "azure"
    assert out["queue"] == "moodring"
    assert out["dead_letter_queue"] == "moodring/$DeadLetterQueue"
    assert (
        out["state_table"] == f"https://{acct}.table.core.windows.net/{stack.one(TABLE).outputs['tableName']}"
    )
    assert out["bucket"] == f"https://{acct}.blob.core.windows.net/agentfleet"
    assert (
        out["agent_group"]
        == stack.one("azure-native:compute:VirtualMachineScaleSet").outputs["vmScaleSetName"]
    )
    assert out["servicebus_namespace"] == f"{ns}.servicebus.windows.net"
    assert out["queue_name"] == "moodring"
    assert out["resource_group"] == stack.one(RG).outputs["resourceGroupName"]


def test_no_cache_unless_asked(stack: Synthesis) -> None:
    assert stack.of_type(REDIS) == [] and stack.of_type(REDIS_DB) == []
    assert stack.of_type("azure-native:redis:Redis") == []


def test_cache_is_azure_managed_redis_not_the_retiring_azure_cache_for_redis() -> None:
    # Azure Cache for Redis (Microsoft.Cache/redis) is retiring and refuses new customers' caches.
    s = synth("azure", {"state": {"cache": True}})
    assert s.of_type("azure-native:redis:Redis") == []
    cluster = s.one(REDIS).inputs
    assert cluster["sku"] == {"name": "Balanced_B0"}
    assert cluster["publicNetworkAccess"] == "Enabled"  # required by the API, Enabled or Disabled


def test_cache_is_tls_only_with_entra_auth() -> None:
    s = synth("azure", {"state": {"cache": True}})
    assert s.one(REDIS).inputs["minimumTlsVersion"] == "1.2"
    db = s.one(REDIS_DB)
    assert db.inputs["clusterName"] == s.one(REDIS).outputs["clusterName"]
    # Azure Managed Redis has exactly one database, and it must be called "default".
    assert db.inputs["databaseName"] == "default"
    assert db.inputs["clientProtocol"] == "Encrypted"
    assert db.inputs["port"] == 10_000
    assert db.inputs["accessKeysAuthentication"] == "Disabled"
    # One endpoint that a plain (non-cluster) Redis client can use.
    assert db.inputs["clusteringPolicy"] == "EnterpriseCluster"


def test_resource_group_is_in_the_configured_location() -> None:
    config = stack_config("azure")
    config["azure-native:location"] = "swedencentral"
    s = synthesize(config)
    assert s.one(RG).inputs["location"] == "swedencentral"
    assert s.one(NAMESPACE).inputs["location"] == "swedencentral"
