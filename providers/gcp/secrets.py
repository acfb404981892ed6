"""`agent.secrets` on Google Cloud: values in Secret Manager, readable by the fleet's account only.

A value (a Pulumi secret) becomes a Secret Manager secret `FLEET-NAME` (`NAME` the environment
variable) in `gcp:project` and one version holding the value; the agent is given the version's
resource name, so a changed value is a new version and a new reference, and the Deployment rolls
out in the same `pulumi up`. A `{ref: projects/P/secrets/S[/versions/V]}` names a secret the user
keeps (in any project); the agent is given the reference as written.

The fleet's Google service account (identity.py; its pods act as it through Workload Identity)
gets `roles/secretmanager.secretAccessor` on each of those secrets and nothing else: one
`SecretIamMember` per secret, on the secret itself, never on the project. A reference to a version
is granted on its secret, because Secret Manager's IAM stops at secrets (versions have no policy of
their own). Granting on a secret of another project needs the deployer to hold
`secretmanager.secrets.setIamPolicy` there (docs/gcp.md).

`AGENTFLEET_SECRETS` (agent/contract.py) carries only these references; no value reaches the
manifest, the plan or a stack output (the value is recorded as `[secret]` by Pulumi).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from agentfleet.components.schema import FleetConfig
from agentfleet.components.secrets import secret_references, secrets_to_store
from agentfleet.providers.gcp.apis import Apis
from agentfleet.providers.gcp.names import Names
from agentfleet.providers.gcp.settings import Placement

ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"
_VERSION_SUFFIX = re.compile(r"/versions/[^/]+$")


@dataclass
class Secrets:
    #: Environment variable name -> the reference the agent reads (agent/secrets/gcp.py).
    references: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    #: The stored versions and the read grants: pods start after them.
    ready: list[pulumi.Resource] = field(default_factory=list)

    def environment(self) -> pulumi.Output[str] | None:
        """`AGENTFLEET_SECRETS`: the references as one JSON object, None without secrets."""
        if not self.references:
            return None
        return pulumi.Output.all(**self.references).apply(lambda refs: json.dumps(refs, sort_keys=True))


def secret_of(reference: str) -> str:
    """`projects/P/secrets/S` of a reference, with or without `/versions/V`."""
    return _VERSION_SUFFIX.sub("", reference)


def build_secrets(
    parent: pulumi.Resource,
    config: FleetConfig,
    placement: Placement,
    *,
    apis: Apis,
    reader: pulumi.Input[str],
) -> Secrets:
    """Store the values, grant `reader` (an IAM member) read on those and on the referenced secrets."""
    names = Names(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    secrets = Secrets()
    readable: dict[str, pulumi.Input[str]] = {}
    for variable, value in secrets_to_store(config).items():
        stored = gcp.secretmanager.Secret(
            names.secret(variable),
            secret_id=names.secret(variable),
            project=placement.project,
            # "The Secret will automatically be replicated without any restrictions."
            replication=gcp.secretmanager.SecretReplicationArgs(
                auto=gcp.secretmanager.SecretReplicationAutoArgs()
            ),
            labels={"agentfleet-fleet": config.name},
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[apis["secretmanager"]])
            ),
        )
        version = gcp.secretmanager.SecretVersion(
            f"{names.secret(variable)}-version",
            secret=stored.id,
            secret_data=value,
            opts=opts,
        )
        secrets.references[variable] = version.name
        secrets.ready.append(version)
        readable[variable] = stored.id
    granted: set[str] = set()
    for variable, reference in sorted(secret_references(config).items()):
        secrets.references[variable] = reference
        if secret_of(reference) not in granted:
            granted.add(secret_of(reference))
            readable[variable] = secret_of(reference)
    for variable, secret_id in readable.items():
        secrets.ready.append(
            gcp.secretmanager.SecretIamMember(
                f"{names.secret(variable)}-reader",
                # The full `projects/P/secrets/S` and no `project`: "If it is not provided, the
                # project will be parsed from the identifier of the parent resource", so a
                # referenced secret of another project is granted in its own project.
                secret_id=secret_id,
                role=ACCESSOR_ROLE,
                member=reader,
                opts=opts,
            )
        )
    return secrets
