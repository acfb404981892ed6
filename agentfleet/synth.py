"""Run the real Pulumi program offline, under Pulumi's own mock runtime, and record what it makes.

This is what `agentfleet plan` prints and what the infrastructure tests assert on. The program is
`components.program.main` — the same function `__main__.py` runs under `pulumi up` — so a test
of the synthesis is a test of the program, not of a copy.

Mocked clouds answer with realistic computed outputs (ARNs, URLs, resource ids) from each
provider's `providers/<cloud>/mocks.py`, so wiring between resources (this policy names that
queue's ARN) can be asserted on resolved values.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc as pulumi_rpc
from pulumi.runtime import settings as pulumi_settings

from agentfleet.providers import TARGETS, target
from agentfleet.providers.base import TargetMocks

PROJECT = "agentfleet"


@dataclass
class Recorded:
    """One resource the program registered, with its resolved inputs and mocked outputs."""

    urn: str
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    custom: bool
    ignore_changes: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    #: `custom_timeouts` as registered (`create`, `update`, `delete`: Go durations), empty when unset.
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    #: The provider reference (`urn::id`) the resource was registered with, "" for the default one.
    provider: str = ""


@dataclass
class Synthesis:
    """Everything one program run registered: resources in order, and the stack outputs."""

    resources: list[Recorded]
    outputs: dict[str, Any]
    invokes: list[tuple[str, dict[str, Any]]]
    #: What the program told the user (`pulumi.log.info` and up), as `pulumi up` would show it.
    notes: list[str] = field(default_factory=list)
    #: (token, provider id) of every invoke, in order: "" for the default provider.
    invoke_providers: list[tuple[str, str]] = field(default_factory=list)
    #: The resolved value of what the program returned (a test's own Output), None for `main`.
    value: Any = None

    def of_type(self, type_token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> Recorded:
        found = self.of_type(type_token)
        if len(found) != 1:
            names = [r.name for r in found]
            raise AssertionError(f"expected exactly one {type_token}, found {len(found)}: {names}")
        return found[0]

    def named(self, name: str) -> Recorded:
        for r in self.resources:
            if r.name == name:
                return r
        raise AssertionError(f"no resource named {name!r}; have {[r.name for r in self.resources]}")

    def by_urn(self, urn: str) -> Recorded:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children_of(self, urn: str) -> list[Recorded]:
        return [r for r in self.resources if r.parent == urn]


class CloudMocks(pulumi_mocks.Mocks):
    """Answers the mock runtime with the chosen cloud's realistic outputs (providers/<cloud>/mocks.py).

    An explicit provider the program creates (`aws.Provider("west", region="us-west-2")`) is
    remembered, and a resource or invoke that goes through it is answered with that provider's
    settings in place of the stack's: its input `region` read as the stack key `aws:region`, as
    Pulumi itself maps a package's stack config onto its default provider's inputs."""

    PROVIDER_PREFIX = "pulumi:providers:"

    def __init__(self, cloud: str | None, config: Mapping[str, str], *, preview: bool = False) -> None:
        self._cloud_mocks: TargetMocks | None = target(cloud).mocks if cloud in TARGETS else None
        self.config = dict(config)
        self.preview = preview
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        self.invoke_providers: list[tuple[str, str]] = []
        #: Explicit provider id -> the stack keys its inputs stand for (`aws:region`: ...).
        self._providers: dict[str, dict[str, str]] = {}

    def config_for(self, provider: str | None) -> dict[str, str]:
        """The stack config as the provider `provider` (`urn::id`, "" or None: the default) sees it."""
        return {**self.config, **self._providers.get((provider or "").rpartition("::")[2], {})}

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ.startswith(self.PROVIDER_PREFIX):
            package = args.typ.removeprefix(self.PROVIDER_PREFIX)
            provider_id = f"{args.name}-provider-id"
            self._providers[provider_id] = {
                f"{package}:{key}": value for key, value in args.inputs.items() if isinstance(value, str)
            }
            return provider_id, dict(args.inputs)
        config = self.config_for(args.provider)
        if self._cloud_mocks is not None:
            rid, computed = self._cloud_mocks.resource_outputs(args.typ, args.name, dict(args.inputs), config)
        else:
            rid, computed = f"{args.name}-id", {}
        if self.preview:
            # A dry run of a new stack: the engine knows the inputs (in the shape the provider
            # gives them back) and nothing the cloud computes; outputs missing here resolve as
            # unknown, as they do in `pulumi preview`.
            reshaped = {k: v for k, v in computed.items() if k in args.inputs}
            known = {k: v for k, v in args.inputs.items() if not _holds_unknown(reshaped.get(k))}
            return None, {**known, **{k: v for k, v in reshaped.items() if not _holds_unknown(v)}}
        return rid, {**args.inputs, **computed}

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]]]:
        self.invokes.append((args.token, dict(args.args)))
        self.invoke_providers.append((args.token, (args.provider or "").rpartition("::")[2]))
        if self._cloud_mocks is not None:
            return self._cloud_mocks.invoke(args.token, dict(args.args), self.config_for(args.provider)), []
        raise NotImplementedError(f"no mock answer for invoke {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration's parent, options and stack outputs."""

    def __init__(self, mocks: CloudMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Recorded] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        reg = self.resources[response.urn]
        inputs = pulumi_mocks.rpc.deserialize_properties(request.object)
        self.recorded.append(
            Recorded(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                inputs=_plain(inputs),
                outputs=_plain(dict(reg.state)),
                id=reg.id or "",
                custom=bool(request.custom),
                ignore_changes=list(request.ignoreChanges),
                depends_on=list(request.dependencies),
                delete_before_replace=bool(request.deleteBeforeReplace),
                provider=request.provider,
                custom_timeouts={
                    key: value
                    for key in ("create", "update", "delete")
                    if (value := getattr(request.customTimeouts, key, ""))
                },
            )
        )
        return response


#: How a recorded secret reads: `agentfleet plan` never shows a secret's value.
SECRET = "[secret]"
#: How a recorded value the cloud computes reads in a dry run: the SDK's own sentinel.
UNKNOWN = pulumi_rpc.UNKNOWN


def _holds_unknown(value: Any) -> bool:
    """Whether a value (or a key or item within it) is one a dry run does not know yet."""
    if isinstance(value, pulumi.output.Unknown):
        return True
    if isinstance(value, dict):
        return any(_holds_unknown(k) or _holds_unknown(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_unknown(v) for v in value)
    return False


def _plain(value: Any) -> Any:
    """Drop the SDK's unknown/secret wrappers so recorded values compare as plain data."""
    if isinstance(value, pulumi.output.Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        if value.get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270":
            # A Pulumi secret: recorded as a marker, so no plan or test output can show its value.
            return SECRET
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def config_from_stack_file(path: Path) -> dict[str, str]:
    """The `config:` map of a Pulumi.<stack>.yaml, as the engine hands it to a program."""
    data = yaml.safe_load(path.read_text()) or {}
    raw = data.get("config") or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: 'config' must be a map of keys to values")
    return flatten_config(raw)


def flatten_config(raw: Mapping[str, Any]) -> dict[str, str]:
    """Engine form of config: structured values become JSON strings (see pulumi/pulumi#4472)."""
    flat: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, dict | list):
            flat[key] = json.dumps(value)
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = str(value)
    return flat


def synthesize(config: Mapping[str, str], *, stack: str = "dev", preview: bool = False) -> Synthesis:
    """Run `components.program.main` under mocks with this engine-form config; return what it made.

    Each call gets a fresh event loop and a fresh root stack, so runs never leak into each other
    (pulumi/pulumi#8280). Raises `ConfigError` for a bad config, before anything is registered.
    """
    from agentfleet.components.program import main

    return synthesize_program(
        main, config, cloud=config.get("agentfleet:cloud"), stack=stack, preview=preview
    )


def synthesize_program(
    program: Callable[[], object],
    config: Mapping[str, str],
    *,
    cloud: str | None,
    stack: str = "dev",
    preview: bool = False,
) -> Synthesis:
    """Run any Pulumi program (`components.program.main`, an example's `__main__.py`) under the
    mocks of `cloud`, with this engine-form config; what it passes to `pulumi.export` becomes the
    outputs. The program's own exceptions (a `ConfigError`) propagate."""
    mocks = CloudMocks(cloud, config, preview=preview)
    monitor = RecordingMonitor(mocks)
    notes = _NoteCollector()
    logger = logging.Logger("agentfleet.synth", level=logging.INFO)
    logger.addHandler(notes)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    exported: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    returned: dict[str, Any] = {}
    real_export = pulumi.export
    try:
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_all_config(dict(config))
        pulumi.runtime.set_mocks(
            mocks, project=PROJECT, stack=stack, preview=preview, logger=logger, monitor=monitor
        )
        # Stack exports are not observable under mocks (pulumi/pulumi#8342): what the program
        # exports is kept here and resolved as the test's own Output.
        pulumi.export = exported.__setitem__  # type: ignore[assignment]

        def run() -> Any:
            value = program()

            def keep(resolved: dict[str, Any]) -> None:
                outputs.update(resolved["exports"])
                returned["value"] = resolved["value"]

            return pulumi.Output.all(exports=pulumi.Output.all(**exported), value=value).apply(keep)

        pulumi.runtime.test(run)()
    finally:
        pulumi.export = real_export
        asyncio.set_event_loop(None)
        loop.close()
    return Synthesis(
        resources=monitor.recorded,
        outputs=_plain(outputs),
        invokes=mocks.invokes,
        notes=notes.messages,
        invoke_providers=mocks.invoke_providers,
        value=returned.get("value"),
    )


class _NoteCollector(logging.Handler):
    """Keeps what the program logs through `pulumi.log`, which the mock engine hands to a logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
