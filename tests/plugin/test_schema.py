"""The schema other Pulumi languages see: Pulumi's analyzer run offline on the component, and the
same schema served by the plugin process `pulumi package add plugin/` would start. Both run in
child processes (tests/plugin/host.py says why).

Before ScalableAgentFleetArgs the analyzer failed on the component (`AttributeError: 'str' object
has no attribute '__mro__'`: `from __future__ import annotations` turned every annotation into a
string; then the pydantic FleetConfig inside FleetArgs was no class it could map)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.plugin.helpers import analyzed_schema as schema

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugin"
TOKEN = "agentfleet:index:ScalableAgentFleet"


@pytest.fixture(scope="module")
def fleet() -> dict[str, Any]:
    resources = schema()["resources"]
    assert list(resources) == [TOKEN]
    return dict(resources[TOKEN])


def test_the_schema_is_the_agentfleet_package_with_one_component(fleet: dict[str, Any]) -> None:
    whole = schema()
    assert whole["name"] == "agentfleet"
    assert whole["version"]  # codegen needs one
    assert fleet["isComponent"] is True


def test_inputs_take_values_of_other_resources_where_they_can(fleet: dict[str, Any]) -> None:
    inputs = fleet["inputProperties"]
    assert set(inputs) == {"cloud", "config", "image", "networkId", "subnetIds", "clusterId", "network"}
    assert sorted(fleet["requiredInputs"]) == ["cloud", "config"]
    # Inputs (no `plain`): another language may pass an output of another resource.
    for name in ("cloud", "image", "networkId", "clusterId"):
        assert inputs[name]["type"] == "string", name
        assert "plain" not in inputs[name], name
    assert inputs["subnetIds"]["type"] == "array"
    assert inputs["subnetIds"]["items"]["type"] == "string"
    assert "plain" not in inputs["subnetIds"]
    # The config is the agentfleet:fleet object: a map of any values, validated when constructed.
    assert inputs["config"]["type"] == "object"
    assert inputs["config"]["additionalProperties"]["$ref"] == "pulumi.json#/Any"
    assert "plain" not in inputs["config"]
    # A network is shared by name, decided when the program runs: a plain string.
    assert inputs["network"] == {**inputs["network"], "type": "string", "plain": True}
    for name, prop in inputs.items():
        assert prop.get("description"), f"{name} has no description in the schema"


def test_outputs_are_the_stack_outputs_of_every_cloud(fleet: dict[str, Any]) -> None:
    outputs = fleet["properties"]
    assert set(outputs) == {
        "cloud",
        "queue",
        "deadLetterQueue",
        "stateTable",
        "bucket",
        "agentGroup",
        "sendWork",
    }
    for name in ("cloud", "queue", "deadLetterQueue", "stateTable", "bucket", "agentGroup"):
        assert outputs[name]["type"] == "string", name
    assert outputs["sendWork"]["type"] == "object"
    assert outputs["sendWork"]["additionalProperties"]["type"] == "string"
    # state_table and bucket exist only when state.table / state.bucket are on.
    assert sorted(fleet["required"]) == ["agentGroup", "cloud", "deadLetterQueue", "queue", "sendWork"]


def test_the_plugin_manifest_is_what_pulumi_package_add_reads() -> None:
    manifest = yaml.safe_load((PLUGIN / "PulumiPlugin.yaml").read_text())
    # Pulumi's docs: Python component providers support only the pip toolchain with a `venv`,
    # "Don't add any other runtime options".
    assert manifest == {"runtime": "python"}
    requirements = [
        line.strip()
        for line in (PLUGIN / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert requirements == ["..[infra]"]  # this repository, with the Pulumi SDKs
    # The program's Pulumi.yaml and __main__.py stay at the root, apart from the plugin's.
    assert (ROOT / "Pulumi.yaml").exists() and not (PLUGIN / "Pulumi.yaml").exists()


@pytest.fixture
def plugin_port() -> Iterator[int]:
    """The plugin started as Pulumi starts it (`python plugin ENGINE`); it prints its port."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The engine address is only dialled for construct calls; GetSchema needs none.
    proc = subprocess.Popen(
        [sys.executable, str(PLUGIN), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=PLUGIN,
    )
    try:
        assert proc.stdout is not None
        # The port line comes once the server listens; EOF if the process ends. The bound only
        # turns a hung start into a failure (the analyzer runs first, slowly on a busy machine).
        ready, _, _ = select.select([proc.stdout], [], [], 600)
        line = proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the plugin did not start: {line!r} {err.decode()[-2000:]}")
        yield int(line)
    finally:
        proc.kill()
        proc.communicate()


def test_the_plugin_process_serves_the_analyzed_schema(plugin_port: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{plugin_port}") as channel:
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        served = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=120)
    assert json.loads(served.schema) == schema()
