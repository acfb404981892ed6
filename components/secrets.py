"""`agent.secrets` as the targets deploy it: values to store, references to grant.

A value is the secret itself: `pulumi up` hands the program the decrypted string (the whole
`agentfleet:fleet` key is a secret once any path in it is), and each one leaves here wrapped in
`pulumi.Output.secret`, so Pulumi encrypts it in the state and masks it in every display. A
target stores it in the cloud's secret store and passes the agent only the stored secret's
reference. A `{ref: ...}` names a secret the user already keeps there. Either way the agent gets
`AGENTFLEET_SECRETS` (name -> reference) and reads the values at start with its own identity;
no value is ever in user data, a manifest, a plan or a stack output.
"""

from __future__ import annotations

import pulumi

from agentfleet.components.schema import EncryptedSecret, FleetConfig, SecretReference

#: What stands for a value `agentfleet plan` read encrypted from a stack file (it never decrypts).
ENCRYPTED_STAND_IN = "[secret: encrypted in the stack file]"


def secrets_to_store(config: FleetConfig) -> dict[str, pulumi.Output[str]]:
    """Environment variable name -> the value to store, as a secret Output."""
    stored: dict[str, pulumi.Output[str]] = {}
    for name, source in config.agent.secrets.items():
        if isinstance(source, SecretReference):
            continue
        value = ENCRYPTED_STAND_IN if isinstance(source, EncryptedSecret) else source
        stored[name] = pulumi.Output.secret(value)
    return stored


def secret_references(config: FleetConfig) -> dict[str, str]:
    """Environment variable name -> the reference of a secret the user already stores."""
    return {
        name: source.ref
        for name, source in config.agent.secrets.items()
        if isinstance(source, SecretReference)
    }
