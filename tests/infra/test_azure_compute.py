"""The VM Scale Set: health, repairs, drain, rollouts, spot, identity, and the agent's custom data."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from prometheus_client import CollectorRegistry

from agentfleet.agent import contract
from agentfleet.agent.health import HealthServer, HealthState
from agentfleet.providers.azure.compute import HEALTH_PATH
from agentfleet.providers.cloudinit import ENV_FILE
from agentfleet.synth import Synthesis
from tests.infra.helpers import synth
from tests.peer_check import require_peer

VMSS = "azure-native:compute:VirtualMachineScaleSet"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE = "azure-native:authorization:RoleAssignment"

FLEET = {
    "agent": {"port": 9100, "drain_timeout_seconds": 400, "concurrency": 3, "env": {"LOG_LEVEL": "debug"}},
    "queue": {"visibility_timeout_seconds": 900},
    "scaling": {"min_agents": 2, "max_agents": 12, "warmup_seconds": 1_500},
    "azure": {"vm_size": "Standard_D4as_v5"},
}


@pytest.fixture(scope="module")
def stack() -> Synthesis:
    return synth("azure", FLEET)


def profile(s: Synthesis) -> dict[str, Any]:
    return dict(s.one(VMSS).inputs["virtualMachineProfile"])


def cloud_config(s: Synthesis) -> str:
    return base64.b64decode(profile(s)["osProfile"]["customData"]).decode()


def env_file(s: Synthesis) -> dict[str, str]:
    doc = yaml.safe_load(cloud_config(s))
    (content,) = [f["content"] for f in doc["write_files"] if f["path"] == ENV_FILE]
    return dict(line.split("=", 1) for line in content.splitlines())


def test_health_extension_probes_healthz_on_the_agent_port(stack: Synthesis) -> None:
    (ext,) = profile(stack)["extensionProfile"]["extensions"]
    # Binary Health States (1.0): 200 = Healthy, anything else = Unhealthy, which is what /healthz
    # answers. Rich Health States (2.0) would judge every agent Unknown (see the next test).
    assert (ext["publisher"], ext["type"], ext["typeHandlerVersion"]) == (
        "Microsoft.ManagedServices",
        "ApplicationHealthLinux",
        "1.0",
    )
    # Binary states take no gracePeriod; the repairs policy's grace period covers the warm-up.
    assert ext["settings"] == {
        "protocol": "http",
        "port": 9100,
        "requestPath": "/healthz",
        "intervalInSeconds": 5,
        "numberOfProbes": 3,
    }


def _healthz(alive: bool) -> tuple[int, dict[str, Any]]:
    """What the agent's own /healthz answers (agent/health.py), alive or with a stale heartbeat."""
    beat = time.monotonic() - (0 if alive else 3_600)
    state = HealthState(
        cast(Any, None),  # /healthz never touches the backend
        CollectorRegistry(),
        warmup_seconds=0,
        heartbeat=lambda: beat,
        draining=lambda: False,
    )
    server = HealthServer(state, 0, host="127.0.0.1").start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", HEALTH_PATH)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        server.stop()


def test_health_extension_mode_matches_what_the_agent_s_healthz_answers(stack: Synthesis) -> None:
    """The extension's health-state mode must read the agent's real /healthz answers correctly.

    Rich Health States (2.x) want a 2xx with `{"ApplicationHealthState": "Healthy"}`; any other
    body is *Unknown*, and automatic repairs replace Unknown instances like Unhealthy ones.
    Binary Health States (1.x) want 200 for healthy and anything else for unhealthy."""
    (ext,) = profile(stack)["extensionProfile"]["extensions"]
    (ok_status, ok_body), (sick_status, sick_body) = _healthz(alive=True), _healthz(alive=False)
    if ext["typeHandlerVersion"].startswith("2."):
        assert 200 <= ok_status < 300 and ok_body.get("ApplicationHealthState") == "Healthy", ok_body
        assert 200 <= sick_status < 300 and sick_body.get("ApplicationHealthState") == "Unhealthy"
    else:
        assert ext["typeHandlerVersion"].startswith("1.")
        assert (ok_status, sick_status) == (200, 503)


def test_automatic_repairs_grace_period_follows_warmup(stack: Synthesis) -> None:
    # warmup 1500 s = 25 min, above the API's 10-minute minimum.
    assert stack.one(VMSS).inputs["automaticRepairsPolicy"] == {
        "enabled": True,
        "gracePeriod": "PT25M",
        "repairAction": "Replace",
    }


def test_automatic_repairs_grace_period_respects_the_api_minimum() -> None:
    s = synth("azure", {"scaling": {"warmup_seconds": 90}})
    assert s.one(VMSS).inputs["automaticRepairsPolicy"]["gracePeriod"] == "PT10M"


def test_terminate_notification_covers_the_drain(stack: Synthesis) -> None:
    # drain 400 s + 30 s margin = 430 s -> 8 whole minutes (within 5-15).
    notice = profile(stack)["scheduledEventsProfile"]["terminateNotificationProfile"]
    assert notice == {"enable": True, "notBeforeTimeout": "PT8M"}


def test_terminate_notification_is_at_least_five_minutes() -> None:
    s = synth("azure", {"agent": {"drain_timeout_seconds": 30}})
    notice = profile(s)["scheduledEventsProfile"]["terminateNotificationProfile"]
    assert notice["notBeforeTimeout"] == "PT5M"


def test_rolling_upgrade_replaces_agents_in_batches_with_surge(stack: Synthesis) -> None:
    policy = stack.one(VMSS).inputs["upgradePolicy"]
    assert policy["mode"] == "Rolling"
    rolling = policy["rollingUpgradePolicy"]
    assert rolling["maxBatchInstancePercent"] == 20
    assert rolling["maxUnhealthyInstancePercent"] == 20
    assert rolling["maxSurge"] is True
    assert rolling["pauseTimeBetweenBatches"] == "PT25M"


def test_autoscaler_owns_the_instance_count(stack: Synthesis) -> None:
    vmss = stack.one(VMSS)
    assert "sku.capacity" in vmss.ignore_changes
    assert vmss.inputs["sku"] == {"name": "Standard_D4as_v5", "tier": "Standard", "capacity": 2}
    assert vmss.inputs["overprovision"] is False


def test_regular_priority_by_default(stack: Synthesis) -> None:
    p = profile(stack)
    assert p["priority"] == "Regular"
    assert "evictionPolicy" not in p and "billingProfile" not in p


def test_spot_sets_priority_eviction_and_price_cap() -> None:
    s = synth("azure", {"compute": {"spot": True}, "azure": {"vm_size": "Standard_D2as_v5"}})
    p = profile(s)
    assert (p["priority"], p["evictionPolicy"], p["billingProfile"]) == ("Spot", "Delete", {"maxPrice": -1})


def test_spot_has_no_terminate_notification() -> None:
    # Azure: "Terminate notifications cannot be enabled on Spot instances."
    s = synth("azure", {"compute": {"spot": True}, "azure": {"vm_size": "Standard_D2as_v5"}})
    notice = profile(s).get("scheduledEventsProfile", {}).get("terminateNotificationProfile", {})
    assert notice.get("enable") is not True
    # The agent still watches Scheduled Events: a Spot eviction arrives there as Preempt.
    assert env_file(s)[contract.LIFECYCLE] == "azure-scheduled-events"


def test_no_public_ip_and_the_nsg_on_every_nic(stack: Synthesis) -> None:
    nsg = stack.one("azure-native:network:NetworkSecurityGroup")
    subnet = stack.one("azure-native:network:Subnet")
    nics = profile(stack)["networkProfile"]["networkInterfaceConfigurations"]
    assert len(nics) == 1
    assert nics[0]["networkSecurityGroup"] == {"id": nsg.id}
    for ip in nics[0]["ipConfigurations"]:
        assert "publicIPAddressConfiguration" not in ip
        assert ip["subnet"] == {"id": subnet.id}


def test_ssh_password_authentication_is_off(stack: Synthesis) -> None:
    linux = profile(stack)["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    assert "adminPassword" not in profile(stack)["osProfile"]


def test_scale_set_runs_as_this_fleet_s_identity_after_its_grants(stack: Synthesis) -> None:
    vmss, identity = stack.one(VMSS), stack.one(IDENTITY)
    assert vmss.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity.id]}
    # The grants exist before the first agent boots.
    for grant in stack.of_type(ROLE):
        assert grant.urn in vmss.depends_on


def test_custom_data_carries_the_environment_contract(stack: Synthesis) -> None:
    env = env_file(stack)
    queue = stack.one("azure-native:servicebus:Queue")
    namespace = stack.one("azure-native:servicebus:Namespace")
    account = stack.one("azure-native:storage:StorageAccount").outputs["accountName"]
    table = stack.one("azure-native:storage:Table").outputs["tableName"]
    container = stack.one("azure-native:storage:BlobContainer").outputs["containerName"]
    assert env[contract.BACKEND] == "servicebus"
    assert env[contract.QUEUE] == queue.outputs["queueName"]
    assert env[contract.DEAD_LETTER_QUEUE] == ""
    assert (
        env[contract.SERVICEBUS_NAMESPACE] == f"{namespace.outputs['namespaceName']}.servicebus.windows.net"
    )
    assert env[contract.STATE] == f"https://{account}.table.core.windows.net/{table}"
    assert env[contract.BUCKET] == f"https://{account}.blob.core.windows.net/{container}"
    assert env[contract.LIFECYCLE] == "azure-scheduled-events"
    assert contract.CACHE not in env
    # Numbers from the config; the full visibility (900 s) so the runtime renews the 5-minute lock.
    assert env[contract.VISIBILITY_TIMEOUT] == "900"
    assert env[contract.CONCURRENCY] == "3"
    assert env[contract.PORT] == "9100"
    assert env[contract.DRAIN_TIMEOUT] == "400"
    assert env["LOG_LEVEL"] == "debug"
    # The user-assigned identity's client id, for azure-identity's ManagedIdentityCredential.
    assert env["AZURE_CLIENT_ID"] == stack.one(IDENTITY).outputs["clientId"]


def test_custom_data_without_table_or_bucket_leaves_them_out() -> None:
    s = synth("azure", {"state": {"table": False, "bucket": False}})
    env = env_file(s)
    assert contract.STATE not in env and contract.BUCKET not in env
    assert s.of_type("azure-native:storage:Table") == []
    assert s.of_type("azure-native:storage:BlobContainer") == []


def test_custom_data_names_the_cache_when_there_is_one() -> None:
    s = synth("azure", {"state": {"cache": True}})
    cache = s.one("azure-native:redisenterprise:RedisEnterprise")
    # Azure Managed Redis: NAME.REGION.redis.azure.net, TLS on port 10000.
    assert env_file(s)[contract.CACHE] == f"rediss://{cache.outputs['hostName']}:10000"


def test_custom_data_runs_the_configured_image(stack: Synthesis) -> None:
    assert "ghcr.io/acme/moodring-agent:1.4.2" in cloud_config(stack)
    assert "--publish 9100:9100" in cloud_config(stack)


@pytest.mark.peer
@pytest.mark.parametrize("fleet", [FLEET, {"state": {"cache": True}, "compute": {"spot": True},
                                           "azure": {"vm_size": "Standard_D2as_v5"}}])  # fmt: skip
def test_custom_data_passes_cloud_init_schema(fleet: dict[str, Any], tmp_path: Path) -> None:
    require_peer(shutil.which("cloud-init") is not None, "cloud-init")
    path = tmp_path / "user-data"
    path.write_text(cloud_config(synth("azure", fleet)))
    result = subprocess.run(
        ["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout, result.stdout
