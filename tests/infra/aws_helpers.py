"""Shared helpers for the AWS infrastructure tests: cached syntheses, decoded user data, policies."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import yaml

from agentfleet.providers.cloudinit import ENV_FILE
from agentfleet.synth import Recorded, Synthesis, synthesize_program
from tests.infra.helpers import synth

REGION = "us-east-1"
ACCOUNT = "123456789012"
FLEET = "moodring"


@functools.lru_cache(maxsize=32)
def _cached(fleet_json: str, preview: bool) -> Synthesis:
    return synth("aws", json.loads(fleet_json), preview=preview)


def aws_synth(fleet: dict[str, Any] | None = None, *, preview: bool = False) -> Synthesis:
    """One synthesis per distinct fleet override (tests only read it)."""
    return _cached(json.dumps(fleet or {}, sort_keys=True), preview)


def user_data(s: Synthesis) -> str:
    """The launch template's user data, decoded: the #cloud-config an agent boots with."""
    template = s.one("aws:ec2/launchTemplate:LaunchTemplate")
    return base64.b64decode(template.inputs["userData"]).decode()


def write_files(s: Synthesis) -> dict[str, str]:
    return {f["path"]: f["content"] for f in yaml.safe_load(user_data(s))["write_files"]}


def agent_env(s: Synthesis) -> dict[str, str]:
    """The container environment the launch template gives every agent."""
    lines = write_files(s)[ENV_FILE].splitlines()
    return dict(line.split("=", 1) for line in lines)


def policy_document(resource: Recorded) -> dict[str, Any]:
    doc = resource.inputs["policy"]
    return json.loads(doc) if isinstance(doc, str) else doc


def statements(resource: Recorded) -> list[dict[str, Any]]:
    return list(policy_document(resource)["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass
class ProgramRun:
    synthesis: Synthesis
    #: The resolved value of the Output the program returned.
    value: Any
    #: (token, provider id) of every invoke the program made: "" for the default provider.
    invoke_providers: list[tuple[str, str]]


def run_program(
    program: Callable[[], pulumi.Output[Any]], config: Mapping[str, str], *, preview: bool = False
) -> ProgramRun:
    """Run `program` (a test's own Pulumi program) under the AWS mocks of `agentfleet.synth`, which
    answer every invoke and resource for the region of the provider it went through. Returns what
    it registered, the resolved value of the Output the program returned, and its invokes."""
    synthesis = synthesize_program(program, config, cloud="aws", preview=preview)
    return ProgramRun(synthesis, synthesis.value, synthesis.invoke_providers)
