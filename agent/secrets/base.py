"""The one thing a secret store does for the agent: read the current value of a reference."""

from __future__ import annotations

import importlib
import re
from collections.abc import MutableMapping
from typing import Protocol


class SecretError(RuntimeError):
    """A secret could not be read. The message names the reference, never a value."""


class SecretStore(Protocol):
    def read(self, reference: str) -> str:
        """The secret's current value; SecretError (naming the reference) if it cannot be read."""
        ...


#: Reference shape -> (store kind, "module:class" of its reader, imported only when needed).
AWS_REFERENCE = re.compile(r"^(arn:aws[\w-]*:(secretsmanager|ssm):|/)")
KEY_VAULT_REFERENCE = re.compile(r"^https://[^/]+\.vault\.azure\.net/secrets/[^/]+(/[^/]+)?/?$")
SECRET_MANAGER_REFERENCE = re.compile(r"^projects/[^/]+/secrets/[^/]+(/versions/[^/]+)?$")
KINDS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("aws", AWS_REFERENCE, "agentfleet.agent.secrets.aws:AwsSecrets"),
    ("azure", KEY_VAULT_REFERENCE, "agentfleet.agent.secrets.azure:KeyVaultSecrets"),
    ("gcp", SECRET_MANAGER_REFERENCE, "agentfleet.agent.secrets.gcp:SecretManagerSecrets"),
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
