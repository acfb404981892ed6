"""`agentfleet plan`: the offline tree of what a stack would create, for a newcomer to review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from agentfleet.cli import app
from agentfleet.plan import lookup, settings_of
from agentfleet.providers.aws.plan import KEY_SETTINGS
from agentfleet.synth import Recorded
from tests.infra.helpers import BASE_FLEET, REGION_KEYS, deep_merge

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def write_stack(
    tmp_path: Path, cloud: str, fleet: dict[str, Any] | None = None, *, bare: bool = False
) -> Path:
    fleet_config = deep_merge(BASE_FLEET, fleet or {})
    config = {"agentfleet:cloud": cloud, **REGION_KEYS[cloud], "agentfleet:fleet": fleet_config}
    path = tmp_path / f"Pulumi.{cloud}.yaml"
    path.write_text(yaml.safe_dump(config if bare else {"config": config}))
    return path


def test_dev_stack_prints_the_aws_tree_with_key_settings_and_outputs() -> None:
    result = runner.invoke(app, ["plan", "--stack", "dev"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["agentfleet:fleet"]
    assert "moodring agentfleet:index:ScalableAgentFleet" in out
    assert "moodring-agents aws:autoscaling/group:Group" in out
    assert f"maxSize={dev['scaling']['max_agents']}" in out
    assert f"healthCheckGracePeriod={dev['scaling']['warmup_seconds']}" in out
    assert f"targetTrackingConfiguration.targetValue={dev['scaling']['target_backlog_per_agent']}" in out
    assert f"heartbeatTimeout={dev['agent']['drain_timeout_seconds'] + 30}" in out
    assert f"redrivePolicy.maxReceiveCount={dev['queue']['max_receive_count']}" in out
    assert "queue_url=https://sqs.us-east-1.amazonaws.com/123456789012/moodring-queue" in out
    # Children are drawn under the component, one level deeper than it.
    component_line = next(line for line in out.splitlines() if "ScalableAgentFleet" in line)
    group_line = next(line for line in out.splitlines() if "moodring-agents aws:autoscaling" in line)
    assert group_line.index("moodring-agents") > component_line.index("moodring")


def test_json_is_machine_readable_with_parents_settings_and_outputs(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "aws", {"queue": {"max_receive_count": 9}})
    result = runner.invoke(app, ["plan", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["cloud"] == "aws"
    by_name = {r["name"]: r for r in plan["resources"]}
    assert by_name["moodring-queue"]["parent"] == "moodring"
    assert by_name["moodring-queue"]["settings"]["redrivePolicy.maxReceiveCount"] == 9
    assert by_name["moodring-agents"]["settings"]["minSize"] == 0
    assert plan["outputs"]["agent_group"] == "moodring-agents"


def test_a_bare_config_map_works_like_a_stack_file(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "aws", bare=True)
    result = runner.invoke(app, ["plan", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outputs"]["queue"] == "moodring-queue"


def test_preview_mode_plans_without_crashing(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["plan", "--config", str(write_stack(tmp_path, "aws")), "--preview", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert any(r["type"] == "aws:autoscaling/group:Group" for r in json.loads(result.output)["resources"])


def test_bad_config_prints_the_message_and_exits_2(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "aws", {"queue": {"visibility_timeout_seconds": 50000}})
    result = runner.invoke(app, ["plan", "--config", str(path)])
    assert result.exit_code == 2
    assert (
        "agentfleet: fleet.queue.visibility_timeout_seconds=50000 must be <= 43200 "
        "(SQS's 12-hour visibility limit)" in result.output.replace("\n", " ")
    )


def test_missing_stack_file_exits_2_naming_it() -> None:
    result = runner.invoke(app, ["plan", "--stack", "nosuchstack"])
    assert result.exit_code == 2
    assert "Pulumi.nosuchstack.yaml" in result.output


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_other_clouds_plan_through_the_same_command(tmp_path: Path, cloud: str) -> None:
    result = runner.invoke(app, ["plan", "--config", str(write_stack(tmp_path, cloud)), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["outputs"]["cloud"] == cloud
    assert plan["resources"] and not [r for r in plan["resources"] if r["type"].startswith("aws:")]


def test_lookup_follows_lists_and_json_strings() -> None:
    inputs = {"policy": json.dumps({"Statement": [{"Sid": "A"}, {"Sid": "B"}]}), "x": {"y": [{"z": 1}, {}]}}
    assert lookup(inputs, "policy.Statement[*].Sid") == ["A", "B"]
    assert lookup(inputs, "x.y[*].z") == [1]
    assert lookup(inputs, "x.missing") is None


def test_types_without_a_key_list_show_their_scalar_inputs() -> None:
    r = Recorded(urn="u", type="aws:foo/bar:Bar", name="n", parent="", inputs={"a": 1, "tags": {}, "b": [1]},
                 outputs={}, id="i", custom=True)  # fmt: skip
    assert settings_of(r, KEY_SETTINGS) == {"a": 1}


def test_plan_looks_where_the_user_is_and_names_the_stacks_found_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder with only Pulumi.prod.yaml once planned the example repository's dev stack.
    (tmp_path / "Pulumi.prod.yaml").write_text(write_stack(tmp_path, "aws").read_text())
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 2
    assert f"no Pulumi.dev.yaml in {tmp_path.resolve()}; stacks here: aws, prod (pass --stack aws)" in (
        result.output.replace("\n", "")
    )
    planned = runner.invoke(app, ["plan", "--stack", "prod"], env={"COLUMNS": "300"})
    assert planned.exit_code == 0, planned.output
    assert f"from {tmp_path.resolve() / 'Pulumi.prod.yaml'}" in planned.output.replace("\n", "")


def test_a_yaml_syntax_error_is_one_line_naming_the_file_and_the_place(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text("config:\n  agentfleet:cloud: aws\n  agentfleet:fleet: {name: [\n")
    result = runner.invoke(app, ["plan", "--config", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"agentfleet: {path} is not valid YAML: line 4, column 1")


def test_a_folder_given_as_config_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "--config", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    expected = f"agentfleet: {tmp_path} is a folder; --config takes a file such as Pulumi.dev.yaml"
    assert result.output.strip() == expected


def test_preview_marks_what_the_cloud_computes_and_a_plain_plan_has_nothing_unknown(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "aws")
    preview = json.loads(runner.invoke(app, ["plan", "--config", str(path), "--preview", "--json"]).output)
    plain = json.loads(runner.invoke(app, ["plan", "--config", str(path), "--json"]).output)
    policy = next(r["name"] for r in plain["resources"] if r["type"] == "aws:iam/rolePolicy:RolePolicy")
    preview_policy = {r["name"]: r for r in preview["resources"]}[policy]["inputs"]["policy"]
    assert preview_policy == "(known after apply)"
    plain_policy = {r["name"]: r for r in plain["resources"]}[policy]["inputs"]["policy"]
    assert "arn:aws:sqs:us-east-1:123456789012:moodring-queue" in plain_policy
    assert "known after apply" not in json.dumps(plain)


def test_json_is_sorted_so_two_plans_diff_cleanly_and_mocked_values_are_labelled(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "aws")
    first = runner.invoke(app, ["plan", "--config", str(path), "--json"]).output
    assert first == runner.invoke(app, ["plan", "--config", str(path), "--json"]).output
    plan = json.loads(first)
    order = [(r["type"], r["name"]) for r in plan["resources"]]
    assert order == sorted(order)
    template = next(r for r in plan["resources"] if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate")
    assert template["inputs"]["iamInstanceProfile"]["arn"].endswith(" (mock)")
    queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/moodring-queue (mock)"
    assert plan["outputs"]["queue_url"] == queue_url
    assert "123456789012" in plan["mocked"]["stand_ins"]
