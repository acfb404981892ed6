"""Every example in examples/ runs as written: the Python programs under Pulumi's mock runtime with
the clouds' mocks (agentfleet.synth), the YAML program against the schema Pulumi's analyzer
infers. The two-fleet example rests on the AWS target building a shared network and taking its
image as an Input."""

from __future__ import annotations

import base64
import inspect
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentfleet.components.args import IMAGE_FROM_INPUT
from agentfleet.components.fleet import TYPE_TOKEN
from agentfleet.components.network import TYPE_TOKEN as NETWORK_TOKEN
from agentfleet.components.validation import load_fleet_config
from agentfleet.synth import Synthesis, config_from_stack_file, synthesize_program
from tests.plugin.helpers import analyzed_schema as schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, cloud: str, *, preview: bool = False) -> Synthesis:
    """The example's `__main__.py` as `pulumi up` runs it, with its stack file's config."""
    directory = EXAMPLES / name
    config = config_from_stack_file(directory / "Pulumi.dev.yaml")
    return synthesize_program(
        lambda: runpy.run_path(str(directory / "__main__.py"), run_name="__main__"),
        config,
        cloud=cloud,
        preview=preview,
    )


def descendants(s: Synthesis, urn: str) -> list[str]:
    children = [r.urn for r in s.children_of(urn)]
    return children + [d for c in children for d in descendants(s, c)]


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_the_smallest_fleet_of_each_cloud_runs(cloud: str) -> None:
    s = run_example(cloud, cloud)
    fleet = s.one(TYPE_TOKEN)
    assert fleet.name == "hello"
    # Everything the fleet needs is inside it: nothing else was registered.
    assert {r.urn for r in s.resources} == {fleet.urn, *descendants(s, fleet.urn)}
    assert set(s.outputs) == {"queue", "dead_letter_queue", "agent_group", "send_work"}
    for key in ("queue", "dead_letter_queue", "agent_group"):
        assert isinstance(s.outputs[key], str) and "hello" in s.outputs[key], key
    assert s.outputs["send_work"] and all(isinstance(v, str) for v in s.outputs["send_work"].values())


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_the_smallest_fleet_of_each_cloud_previews(cloud: str) -> None:
    s = run_example(cloud, cloud, preview=True)
    assert s.one(TYPE_TOKEN).name == "hello"


@pytest.fixture(scope="module")
def two_fleets() -> Synthesis:
    return run_example("two-fleets", "aws")


def test_two_fleets_share_one_network_built_once(two_fleets: Synthesis) -> None:
    s = two_fleets
    fleets = {r.name: r for r in s.of_type(TYPE_TOKEN)}
    assert set(fleets) == {"orders", "emails"}
    network = s.one(NETWORK_TOKEN)
    assert network.name == "shared"
    # Beside the fleets, not inside one: removing a fleet must not take the other's network away.
    assert network.parent not in {f.urn for f in fleets.values()}
    vpc = s.one("aws:ec2/vpc:Vpc")
    assert vpc.urn in descendants(s, network.urn)


def test_two_fleets_keep_their_queues_and_identities_apart(two_fleets: Synthesis) -> None:
    s = two_fleets
    for name in ("orders", "emails"):
        fleet = next(r for r in s.of_type(TYPE_TOKEN) if r.name == name)
        own = {s.by_urn(u).name for u in descendants(s, fleet.urn)}
        assert {f"{name}-queue", f"{name}-dlq"} <= own
        assert s.outputs[name]["queue"] == f"{name}-queue"
    assert len(s.of_type("aws:iam/role:Role")) >= 2


def test_both_fleets_run_the_image_of_the_stacks_own_repository(two_fleets: Synthesis) -> None:
    s = two_fleets
    repository = s.one("aws:ecr/repository:Repository")
    url = repository.outputs.get("repositoryUrl")
    assert url and re.fullmatch(r"\d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com/.+", url), (
        f"the AWS mocks must answer an ECR repository's repositoryUrl (got {url!r})"
    )
    templates = s.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 2
    for template in templates:
        user_data = base64.b64decode(template.inputs["userData"]).decode()
        assert f"{url}:1.0.0" in user_data, template.name
        assert IMAGE_FROM_INPUT not in user_data, template.name


# --- the YAML example, against the analyzed schema -------------------------------------------------

YAML_PROGRAM = EXAMPLES / "yaml" / "Pulumi.yaml"
INTERPOLATION = re.compile(r"\$\{([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\}")


@pytest.fixture(scope="module")
def program() -> dict[str, Any]:
    return dict(yaml.safe_load(YAML_PROGRAM.read_text()))


def test_the_yaml_program_adds_the_plugin_directory(program: dict[str, Any]) -> None:
    assert program["runtime"] == "yaml"
    plugin = (YAML_PROGRAM.parent / program["packages"]["agentfleet"]).resolve()
    assert (plugin / "PulumiPlugin.yaml").exists() and (plugin / "__main__.py").exists()


def _matches(value: Any, prop: dict[str, Any]) -> bool:
    """Whether a YAML value can stand for a schema property (an interpolation is a string)."""
    kind = prop.get("type")
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list) and all(_matches(v, prop["items"]) for v in value)
    if kind == "object":
        return isinstance(value, dict)
    return prop.get("$ref") == "pulumi.json#/Any"


def test_every_property_the_yaml_program_sets_exists_with_its_type(program: dict[str, Any]) -> None:
    fleet_schema = schema()["resources"][TYPE_TOKEN]
    inputs = fleet_schema["inputProperties"]
    fleets = {n: r for n, r in program["resources"].items() if r["type"] == TYPE_TOKEN}
    assert fleets
    for name, resource in fleets.items():
        given = resource["properties"]
        assert set(given) <= set(inputs), set(given) - set(inputs)
        assert set(fleet_schema["requiredInputs"]) <= set(given)
        for key, value in given.items():
            assert _matches(value, inputs[key]), f"{name}.{key}={value!r} is not a {inputs[key]}"
        # The config is checked as the component checks it: name from the resource, image input.
        config = {"name": name, **given["config"]}
        if "image" in given:
            config["agent"] = {**config.get("agent", {}), "image": IMAGE_FROM_INPUT}
        load_fleet_config(given["cloud"], config, where="config")


def test_every_output_the_yaml_program_reads_exists(program: dict[str, Any]) -> None:
    outputs = schema()["resources"][TYPE_TOKEN]["properties"]
    read = [m.groups() for value in program["outputs"].values() for m in INTERPOLATION.finditer(value)]
    assert read
    for resource, prop in read:
        if program["resources"][resource]["type"] == TYPE_TOKEN:
            assert prop in outputs, prop


def test_the_yaml_programs_other_resources_take_what_it_sets(program: dict[str, Any]) -> None:
    import pulumi_aws as aws

    repository = program["resources"]["agents"]
    assert repository["type"] == "aws:ecr:Repository"
    accepted = inspect.signature(aws.ecr.RepositoryArgs.__init__).parameters
    for key in repository["properties"]:
        assert re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower() in accepted, key
    assert isinstance(inspect.getattr_static(aws.ecr.Repository, "repository_url"), property)
