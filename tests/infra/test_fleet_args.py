"""`ScalableAgentFleet` as a library: a `ScalableAgentFleetArgs` dict from Python, and one line
naming the field for every value that cannot be used, never a traceback (the same inputs through
the provider host: tests/plugin/test_host.py).

Before ScalableAgentFleetArgs, the component took only `FleetArgs` with a validated FleetConfig;
an Output in the config failed inside pydantic (`Calling __str__ on an Output[T] is not
supported`), and a dict was an AttributeError."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from agentfleet.components.args import IMAGE_FROM_INPUT
from agentfleet.components.fleet import TYPE_TOKEN, FleetArgs, ScalableAgentFleet
from agentfleet.components.problems import ConfigError
from agentfleet.components.validation import load_fleet_config
from agentfleet.synth import Synthesis, synthesize_program
from tests.infra.helpers import REGION_KEYS

CONFIG: dict[str, Any] = {"agent": {"image": "ghcr.io/acme/orders-agent:1.0.0"}}


def run(program: Callable[[], object], cloud: str = "aws", *, preview: bool = False) -> Synthesis:
    return synthesize_program(program, dict(REGION_KEYS[cloud]), cloud=cloud, preview=preview)


def fleet_program(args: Any, name: str = "orders") -> Callable[[], object]:
    """A program building one fleet from `args`, or from what `args()` returns (Outputs exist only
    inside a running program)."""

    def program() -> None:
        fleet = ScalableAgentFleet(name, args() if callable(args) else args)
        pulumi.export("queue", fleet.queue)
        pulumi.export("agent_group", fleet.agent_group)

    return program


def test_a_python_program_passes_a_dict_and_the_name_defaults_to_the_resource_name() -> None:
    s = run(fleet_program({"cloud": "aws", "config": CONFIG}))
    fleet = s.one(TYPE_TOKEN)
    assert fleet.name == "orders"
    assert s.outputs == {"queue": "orders-queue", "agent_group": "orders-agents"}
    assert all(r.parent == fleet.urn for r in s.resources if r is not fleet)


def test_a_dict_works_in_a_preview_too() -> None:
    s = run(fleet_program({"cloud": "aws", "config": CONFIG}), preview=True)
    assert s.one(TYPE_TOKEN).name == "orders"
    assert s.outputs["queue"] == "orders-queue"


def test_fleet_args_keep_working() -> None:
    config = load_fleet_config("aws", {"name": "emails", **CONFIG})
    s = run(fleet_program(FleetArgs(cloud="aws", config=config), name="emails"))
    assert s.outputs["queue"] == "emails-queue"


def errors_of(args: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        run(fleet_program(args))
    return str(caught.value).splitlines()


def test_an_output_in_the_config_is_named_by_its_path_in_one_line() -> None:
    lines = errors_of(
        lambda: {"cloud": "aws", "config": {"agent": {"image": pulumi.Output.from_input("ghcr.io/acme/a:1")}}}
    )
    assert len(lines) == 1
    assert lines[0].startswith("agentfleet: config.agent.image is an Output (a value of another resource)")
    assert "image, network_id, subnet_ids or cluster_id" in lines[0]


def test_an_unknown_in_the_config_as_the_host_receives_it_is_named_too() -> None:
    unknown = pulumi.output.Unknown()
    lines = errors_of({"cloud": "aws", "config": {**CONFIG, "agent": {"image": unknown}}})
    assert [line.split(" is ")[0] for line in lines] == ["agentfleet: config.agent.image"]


def test_an_output_for_the_cloud_is_refused_by_name() -> None:
    lines = errors_of(lambda: {"cloud": pulumi.Output.from_input("aws"), "config": CONFIG})
    assert lines == [
        "agentfleet: cloud is an Output (a value of another resource): it must be a string known when "
        "the program runs: one of aws, azure, gcp"
    ]


def test_config_problems_read_as_the_stack_configs_do_at_config() -> None:
    bad = {**CONFIG, "scaling": {"min_agents": 3, "max_agents": 2}}
    lines = errors_of({"cloud": "aws", "config": bad})
    with pytest.raises(ConfigError) as stack:
        load_fleet_config("aws", {"name": "orders", **bad})
    assert lines == [line.replace("fleet.", "config.", 1) for line in str(stack.value).splitlines()]
    assert lines[0].startswith("agentfleet: config.scaling.max_agents=2")


def test_missing_and_unknown_arguments_are_named() -> None:
    assert errors_of({"cloud": "aws", "config": CONFIG, "imgae": "x:1"}) == [
        "agentfleet: imgae is not an argument of ScalableAgentFleet; did you mean image?"
    ]
    assert errors_of({"config": CONFIG}) == ["agentfleet: cloud is required: one of aws, azure, gcp"]
    assert errors_of({"cloud": "aws"}) == [
        "agentfleet: config is required: the fleet, shaped like agentfleet:fleet"
    ]


def test_an_image_given_twice_is_refused() -> None:
    lines = errors_of({"cloud": "aws", "config": CONFIG, "image": "ghcr.io/acme/b:2"})
    assert lines == [
        "agentfleet: config.agent.image='ghcr.io/acme/orders-agent:1.0.0' is set together with the "
        "image input: give one"
    ]


def test_the_args_type_is_public() -> None:
    import agentfleet
    from agentfleet.components.args import ScalableAgentFleetArgs

    assert agentfleet.ScalableAgentFleetArgs is ScalableAgentFleetArgs


def test_a_fleet_that_fails_its_checks_builds_no_shared_network() -> None:
    """The network a fleet names is built only once the fleet passed every check of its own: a
    fleet that stops must leave nothing registered (here: no aws:region)."""
    caught: list[str] = []

    def program() -> None:
        try:
            ScalableAgentFleet("orders", {"cloud": "aws", "config": CONFIG, "network": "shared"})
        except ConfigError as exc:
            caught.append(str(exc))

    s = synthesize_program(program, {}, cloud="aws")
    assert len(caught) == 1 and caught[0].startswith("agentfleet: aws:region ")
    assert s.resources == []


def test_a_program_that_is_not_hosted_never_loads_pulumis_provider_package() -> None:
    """pulumi.provider's google.rpc.Status clashes with the Google Cloud SDKs' in protobuf's pool
    (the GCP runtime tests failed with 'duplicate symbol' after any synthesis that loaded it)."""
    root = Path(__file__).resolve().parents[2]
    script = (
        "import sys\n"
        "from tests.infra.test_fleet_args import CONFIG, fleet_program, run\n"
        "run(fleet_program({'cloud': 'aws', 'config': CONFIG}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('pulumi.provider')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def _texts(value: Any) -> list[str]:
    """Every string inside a recorded input, base64 user/custom data decoded too."""
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            if key in ("userData", "customData") and isinstance(item, str):
                try:
                    out.append(base64.b64decode(item, validate=True).decode())
                except ValueError:
                    pass
            out += _texts(item)
        return out
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_an_image_input_reaches_the_agents_and_the_stand_in_reaches_nothing(cloud: str) -> None:
    """The config holds IMAGE_FROM_INPUT only to pass validation; every target must deploy the
    `image` input in its place."""
    image = "ghcr.io/acme/from-input:2.0.0"
    config = {k: v for k, v in CONFIG.items() if k != "agent"}
    s = run(
        fleet_program(lambda: {"cloud": cloud, "config": config, "image": pulumi.Output.from_input(image)}),
        cloud,
    )
    texts = [t for r in s.resources for t in _texts(r.inputs)]
    assert not [t for t in texts if IMAGE_FROM_INPUT in t]
    assert [t for t in texts if image in t]
