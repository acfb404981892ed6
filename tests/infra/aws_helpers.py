"""Shared helpers for the AWS infrastructure tests: cached syntheses, decoded user data, policies."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

from agentfleet.providers.aws.mocks import ExplicitProviders
from agentfleet.providers.cloudinit import ENV_FILE
from agentfleet.synth import PROJECT, CloudMocks, Recorded, RecordingMonitor, Synthesis
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


class ProviderAwareMocks(CloudMocks):
    """The AWS mocks of `agentfleet.synth`, answering each call and resource for the region of the
    provider it went through (providers/aws/mocks.py `ExplicitProviders`)."""

    def __init__(self, config: Mapping[str, str], *, preview: bool = False) -> None:
        super().__init__("aws", config, preview=preview)
        self.providers = ExplicitProviders()
        self.stack_config = dict(config)
        # `config` is the one the parent class answers with: set and used under one lock, as the
        # mock monitor may be called from more than one thread.
        self._lock = threading.Lock()
        #: (token, provider id) of every invoke: "" for the default provider.
        self.invoke_providers: list[tuple[str, str]] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ == ExplicitProviders.TYPE:
            provider_id = f"{args.name}-provider-id"
            self.providers.register(provider_id, dict(args.inputs))
            return provider_id, dict(args.inputs)
        with self._lock:
            self.config = self.providers.config_for(args.provider, self.stack_config)
            return super().new_resource(args)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]]]:
        with self._lock:
            self.invoke_providers.append((args.token, (args.provider or "").rpartition("::")[2]))
            self.config = self.providers.config_for(args.provider, self.stack_config)
            return super().call(args)


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
    """Run `program` (a test's own Pulumi program) under the AWS mocks, as `agentfleet.synth`
    runs the stack's: a fresh event loop and root stack, the stack config set first. Returns what
    it registered, the resolved value of the Output the program returned, and its invokes."""
    mocks = ProviderAwareMocks(config, preview=preview)
    monitor = RecordingMonitor(mocks)
    result: dict[str, Any] = {}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_all_config(dict(config))
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=preview, monitor=monitor)

        def body() -> pulumi.Output[Any]:
            return program().apply(lambda value: result.update(value=value))

        pulumi.runtime.test(body)()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    synthesis = Synthesis(resources=monitor.recorded, outputs={}, invokes=mocks.invokes)
    return ProgramRun(synthesis, result.get("value"), mocks.invoke_providers)
