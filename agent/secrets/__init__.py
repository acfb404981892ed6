"""Secrets the agent reads at start: references in, values out, never logged.

The infrastructure passes `AGENTFLEET_SECRETS`, a JSON object from an environment variable name to
a reference in the cloud's secret store (docs/DESIGN.md, "Secrets"); the agent resolves each with
its own identity before it loads the handler and puts the values into its environment, where the
handler reads them as it reads any variable. Which store is asked follows from the reference:

    arn:aws:secretsmanager:...          AWS Secrets Manager (GetSecretValue)
    arn:aws:ssm:...:parameter/NAME      AWS Systems Manager Parameter Store (GetParameter, decrypted)
    /NAME                               the same, by parameter name
    https://VAULT.vault.azure.net/secrets/NAME[/VERSION]     Azure Key Vault
    projects/P/secrets/S[/versions/V]                         Google Secret Manager

Rotation: values are read at start; an agent started after a rotation reads the new value (the
platforms replace agents continuously; a rolling restart applies a rotation at once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping

from agentfleet.agent.contract import SECRETS
from agentfleet.agent.secrets.base import SecretError, SecretStore, store_for

__all__ = ["SecretError", "SecretStore", "parse_references", "resolve", "store_for"]


def parse_references(raw: str | None) -> dict[str, str]:
    """`AGENTFLEET_SECRETS` as a mapping; a malformed value is a SecretError naming the variable."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise SecretError(f"{SECRETS} must be a JSON object of NAME: reference") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise SecretError(f"{SECRETS} must be a JSON object of NAME: reference (both strings)")
    return parsed


def resolve(
    references: Mapping[str, str], stores: MutableMapping[str, SecretStore] | None = None
) -> dict[str, str]:
    """Every variable's value from its store; the first failure is a SecretError naming it.
    `stores` holds the stores already opened, by kind, and keeps those this call opens, so a
    caller that reads again (the refresher) reuses their clients."""
    values: dict[str, str] = {}
    opened: MutableMapping[str, SecretStore] = stores if stores is not None else {}
    for name, reference in references.items():
        store = store_for(reference, opened)
        try:
            values[name] = store.read(reference)
        except SecretError as exc:
            raise SecretError(f"{name}: {exc}") from None
    return values
