"""`agentfleet plan` on an Azure stack config shows the Azure tree with its key settings."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agentfleet.cli import app

STACK = """
config:
  agentfleet:cloud: azure
  azure-native:location: westeurope
  agentfleet:fleet:
    name: moodring
    agent: {image: "ghcr.io/acme/moodring-agent:1.4.2", handler: "moodring.agent:handle", port: 9000}
    queue: {visibility_timeout_seconds: 1200}
    scaling: {min_agents: 1, max_agents: 20}
"""


def plan_json(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "Pulumi.azure.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["plan", "--config", str(path), "--stack", "azure", "--json"])
    return result.exit_code, result.output


def test_plan_shows_the_azure_tree_under_the_component(tmp_path: Path) -> None:
    code, output = plan_json(tmp_path, STACK)
    assert code == 0, output
    plan = json.loads(output)
    assert plan["cloud"] == "azure"
    by_name = {r["name"]: r for r in plan["resources"]}
    for name in ("moodring-rg", "moodring-bus", "moodring-queue", "moodring-vmss", "moodring-autoscale"):
        assert by_name[name]["parent"] == "moodring"
    assert by_name["moodring-queue"]["settings"]["lockDuration"] == "PT5M"
    vmss = by_name["moodring-vmss"]["settings"]
    assert vmss["sku.capacity"] == 1
    assert vmss["virtualMachineProfile.extensionProfile.extensions.settings.port"] == [9000]
    assert by_name["moodring-autoscale"]["settings"]["profiles.capacity"] == [
        {"minimum": "1", "maximum": "20", "default": "1"}
    ]
    assert plan["outputs"]["queue_name"] == "moodring"
    assert not any(r["type"].startswith(("aws:", "gcp:", "kubernetes:")) for r in plan["resources"])


def test_plan_of_a_bad_azure_config_names_the_field(tmp_path: Path) -> None:
    code, output = plan_json(
        tmp_path, STACK.replace("max_agents: 20}", "max_agents: 20}\n    compute: {spot: true}")
    )
    assert code == 2
    assert "fleet.azure.vm_size='Standard_B2s' must not be a B-series size" in output


def test_plan_shows_the_lock_clamp_notice_pulumi_up_would(tmp_path: Path) -> None:
    # docs/azure.md, "The lock clamp": the notice `pulumi up` logs; plan once dropped it.
    code, output = plan_json(tmp_path, STACK)
    assert code == 0, output
    assert json.loads(output)["notes"] == [
        "agentfleet: fleet.queue.visibility_timeout_seconds=1200 is above Service Bus's 300 s lock "
        "maximum: the queue's lock_duration is PT5M and the agent renews the lock while it works, "
        "up to 1200 s"
    ]


def test_plan_says_a_scale_to_zero_fleet_keeps_one_agent_on_azure(tmp_path: Path) -> None:
    # docs/azure.md, "Scaling from zero": min_agents 0 keeps one agent, and plan says so.
    code, output = plan_json(tmp_path, STACK.replace("min_agents: 1", "min_agents: 0"))
    assert code == 0, output
    plan = json.loads(output)
    assert plan["notes"][-1].startswith(
        "agentfleet: fleet.scaling.min_agents=0: on Azure the fleet keeps 1 agent; "
    )
    by_name = {r["name"]: r for r in plan["resources"]}
    assert by_name["moodring-autoscale"]["settings"]["profiles.capacity"] == [
        {"minimum": "1", "maximum": "20", "default": "1"}
    ]
