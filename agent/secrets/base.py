"""The one thing a secret store does for the agent: read the current value of a reference."""

from __future__ import annotations

import importlib
import re
from collections.abc import MutableMapping
from typing import Protocol

from agentfleet.agent.contract import SECRET_REFERENCES


class SecretError(RuntimeError):
    """A secret could not be read. The message names the reference, never a value."""


class SecretStore(Protocol):
    def read(self, reference: str) -> str:
        """The secret's current value; SecretError (naming the reference) if it cannot be read."""
        ...


#: Reference shape -> (store kind, "module:class" of its reader, imported only when needed).
READERS = {
    "aws": "agentfleet.agent.secrets.aws:AwsSecrets",
    "azure": "agentfleet.agent.secrets.azure:KeyVaultSecrets",
    "gcp": "agentfleet.agent.secrets.gcp:SecretManagerSecrets",
}
KINDS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (kind, re.compile(SECRET_REFERENCES[kind]), reader) for kind, reader in READERS.items()
)


def kind_of(reference: str) -> str:
    for kind, pattern, _ in KINDS:
        if pattern.match(reference):
            return kind
    raise SecretError(
        f"{reference!r} is not a secret reference this agent can read: an AWS Secrets Manager or SSM "
        "parameter ARN (or /parameter/name), a Key Vault secret URI, or projects/P/secrets/S"
    )


def store_for(reference: str, opened: MutableMapping[str, SecretStore]) -> SecretStore:
    """The store that holds `reference`, opened once per kind (its SDK imported only then)."""
    kind = kind_of(reference)
    if kind not in opened:
        path = next(p for k, _, p in KINDS if k == kind)
        module, _, name = path.partition(":")
        opened[kind] = getattr(importlib.import_module(module), name)()
    return opened[kind]
