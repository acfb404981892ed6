"""`agentfleet plan` on a GCP stack config shows the GKE + Pub/Sub tree with its key settings."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agentfleet.cli import app
from agentfleet.providers.gcp.plan import KEY_SETTINGS

STACK = """
config:
  agentfleet:cloud: gcp
  gcp:project: acme-agents
  gcp:region: europe-west1
  agentfleet:fleet:
    name: moodring
    agent: {image: "ghcr.io/acme/moodring-agent:1.4.2", handler: "moodring.agent:handle"}
    queue: {visibility_timeout_seconds: 120, max_receive_count: 7}
    scaling: {min_agents: 1, max_agents: 20}
    state: {cache: true}
"""


def plan_json(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "Pulumi.gcp.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["plan", "--config", str(path), "--stack", "gcp", "--json"])
    return result.exit_code, result.output


def test_every_gcp_resource_type_has_its_key_settings_and_the_kubeconfig_is_not_shown(
    tmp_path: Path,
) -> None:
    code, output = plan_json(tmp_path, STACK)
    assert code == 0, output
    plan = json.loads(output)
    types = {r["type"] for r in plan["resources"]} - {"agentfleet:index:ScalableAgentFleet"}
    assert types - set(KEY_SETTINGS) == set()
    provider = next(r for r in plan["resources"] if r["type"] == "pulumi:providers:kubernetes")
    assert provider["settings"] == {}


def test_plan_shows_the_numbers_the_fleet_config_sets(tmp_path: Path) -> None:
    code, output = plan_json(tmp_path, STACK)
    assert code == 0, output
    plan = json.loads(output)
    by_name = {r["name"]: r for r in plan["resources"]}
    sub = by_name["moodring-agents"]["settings"]
    assert sub["ackDeadlineSeconds"] == 120
    assert sub["deadLetterPolicy.maxDeliveryAttempts"] == 7
    assert sub["deadLetterPolicy.deadLetterTopic"] == "projects/acme-agents/topics/moodring-dead-letter"
    scaled = by_name["moodring-scaled-object"]["settings"]
    assert (scaled["spec.minReplicaCount"], scaled["spec.maxReplicaCount"]) == (1, 20)
    assert scaled["spec.triggers.type"] == ["prometheus"]
    pool = by_name["moodring-agent-pool"]["settings"]
    assert pool["nodeConfig.machineType"] == "e2-standard-2"
    assert pool["autoscaling.totalMaxNodeCount"] >= 1
    assert by_name["moodring-agent-viewer"]["settings"]["role"] == "roles/pubsub.viewer"
    assert by_name["moodring-deployment"]["parent"] == "moodring"
    assert plan["outputs"]["topic"] == "projects/acme-agents/topics/moodring-work"
    assert plan["outputs"]["dead_letter_subscription"].endswith("/subscriptions/moodring-dead-letter-kept")
    assert not any(r["type"].startswith(("aws:", "azure-native:")) for r in plan["resources"])


SECRETS_AND_FLEETS = """
config:
  agentfleet:cloud: gcp
  gcp:project: acme-agents
  gcp:region: europe-west1
  agentfleet:fleets:
    - name: orders
      agent:
        image: "ghcr.io/acme/orders-agent:1.0.0"
        secrets: {API_KEY: sk-live-plan-0123, DB_PASSWORD: {ref: projects/vault/secrets/db}}
    - name: emails
      agent: {image: "ghcr.io/acme/emails-agent:1.0.0"}
"""


def test_plan_of_several_fleets_with_secrets_shows_every_type_and_no_value(tmp_path: Path) -> None:
    code, output = plan_json(tmp_path, SECRETS_AND_FLEETS)
    assert code == 0, output
    plan = json.loads(output)
    types = {r["type"] for r in plan["resources"]} - {
        "agentfleet:index:ScalableAgentFleet",
        "agentfleet:index:FleetNetwork",
    }
    assert "gcp:secretmanager/secretVersion:SecretVersion" in types
    assert types - set(KEY_SETTINGS) == set()
    assert "sk-live-plan-0123" not in output
    version = next(
        r for r in plan["resources"] if r["type"] == "gcp:secretmanager/secretVersion:SecretVersion"
    )
    assert version["settings"]["secretData"] == "[secret]"
