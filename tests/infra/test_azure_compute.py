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
from agentfleet.providers.azure import compute, release
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
    """The release: the agent's cloud-config, in the scale set's userData (release.py)."""
    return base64.b64decode(profile(s)["userData"]).decode()


def bootstrap(s: Synthesis) -> str:
    """The custom data: the fixed bootstrap that applies the release."""
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
    assert rolling["maxUnhealthyUpgradedInstancePercent"] == 20  # a bad release stops early
    assert rolling["maxSurge"] is True
    assert rolling["pauseTimeBetweenBatches"] == "PT25M"


@pytest.mark.parametrize("agents", range(1, 11))
def test_one_sick_agent_does_not_block_the_rollout_of_its_fix(stack: Synthesis, agents: int) -> None:
    # maxUnhealthyInstancePercent is "checked prior to starting any batch": with 20 % one sick
    # agent of four (25 %) aborted the upgrade that ships the fix. Failed before: 20.
    rolling = stack.one(VMSS).inputs["upgradePolicy"]["rollingUpgradePolicy"]
    sick_percent = 100 * 1 / agents
    assert sick_percent <= rolling["maxUnhealthyInstancePercent"] <= 100
    # The API wants maxBatchInstancePercent <= maxUnhealthyInstancePercent.
    assert rolling["maxBatchInstancePercent"] <= rolling["maxUnhealthyInstancePercent"]


def test_a_new_release_reaches_vms_upgraded_in_place() -> None:
    # Custom data is read only when a VM is created; an in-place upgrade (MaxSurge's fallback)
    # keeps it. The image and environment must travel in userData, which a running VM re-reads.
    # Failed before: the image and environment were in customData, and there was no userData.
    old = synth("azure", FLEET)
    new = synth(
        "azure",
        {**FLEET, "agent": {**FLEET["agent"], "image": "ghcr.io/acme/moodring-agent:1.4.3",
                            "env": {"LOG_LEVEL": "info"}}},
    )  # fmt: skip
    assert bootstrap(old) == bootstrap(new)
    assert "moodring-agent:1.4.3" in cloud_config(new) and "moodring-agent:1.4.2" in cloud_config(old)
    assert env_file(new)["LOG_LEVEL"] == "info"
    assert "moodring-agent" not in bootstrap(new)


def test_the_bootstrap_applies_the_release_at_boot_and_on_every_change(stack: Synthesis) -> None:
    doc = yaml.safe_load(bootstrap(stack))
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    assert release.APPLY_SCRIPT in files
    timer = files[f"/etc/systemd/system/{release.RELEASE_TIMER}"]
    assert "OnBootSec=" in timer and f"OnUnitInactiveSec={release.POLL_SECONDS}" in timer
    assert ["systemctl", "enable", "--now", release.RELEASE_TIMER] in doc["runcmd"]
    assert ["systemctl", "start", "--no-block", release.RELEASE_UNIT] in doc["runcmd"]


def test_redeploy_keeps_the_autoscaled_capacity(stack: Synthesis) -> None:
    # ignore_changes alone sends the capacity recorded in state (the one set at creation) on any
    # update of the scale set; a refresh before every update makes the state the live count.
    # Failed before: Pulumi.yaml had no `options: refresh: always`.
    project = yaml.safe_load((Path(__file__).parents[2] / "Pulumi.yaml").read_text())
    assert project["options"]["refresh"] == "always"
    assert "sku.capacity" in stack.one(VMSS).ignore_changes


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


def _ssh_key(s: Synthesis) -> str:
    (key,) = profile(s)["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"]
    return str(key["keyData"])


def _rsa_parts(key: str) -> tuple[str, int, int]:
    kind, blob, _ = key.split(" ")
    raw, fields = base64.b64decode(blob), []
    while raw:
        size = int.from_bytes(raw[:4], "big")
        fields.append(raw[4 : 4 + size])
        raw = raw[4 + size :]
    name, e, n = fields
    assert name.decode() == kind == "ssh-rsa"
    return kind, int.from_bytes(e, "big"), int.from_bytes(n, "big")


def test_ssh_key_is_this_stack_s_own_and_derived_not_committed(stack: Synthesis) -> None:
    # Failed before: one committed key (whose private half nobody can prove was discarded) in
    # every deployment. Now: a key derived from this stack's resource group id.
    key = _ssh_key(stack)
    _, e, n = _rsa_parts(key)
    assert e == 65_537 and n.bit_length() == compute.NO_LOGIN_KEY_BITS and n % 2 == 1
    assert key == compute.no_login_key(stack.one("azure-native:resources:ResourceGroup").id)
    assert _ssh_key(synth("azure", {**FLEET, "name": "otherfleet"})) != key
    source = (Path(__file__).parents[2] / "providers" / "azure" / "compute.py").read_text()
    assert "ssh-rsa AAAA" not in source
    # Azure refuses a change of a scale set's keys: an existing stack keeps its key.
    assert compute.SSH_KEYS_PATH in stack.one(VMSS).ignore_changes


def test_scale_set_runs_as_this_fleet_s_identity_after_its_grants(stack: Synthesis) -> None:
    vmss, identity = stack.one(VMSS), stack.one(IDENTITY)
    assert vmss.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity.id]}
    # The data grants exist before the first agent boots. The scale-in protection grant is
    # scoped to the scale set, so it can only follow it (the runtime tolerates its absence).
    for grant in stack.of_type(ROLE):
        if grant.name == "moodring-scale-in-protection":
            assert grant.inputs["scope"] == vmss.id
        else:
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
    s = synth("azure", fleet)
    for name, document in (("custom-data", bootstrap(s)), ("user-data", cloud_config(s))):
        path = tmp_path / name
        path.write_text(document)
        result = subprocess.run(
            ["cloud-init", "schema", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Valid cloud-config" in result.stdout, result.stdout
