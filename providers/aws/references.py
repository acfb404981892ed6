"""What an `agent.secrets` reference on AWS lets the agents read: the IAM resource it names.

A reference is one of (agent/secrets/aws.py reads each):

    arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf   a complete Secrets Manager ARN
    arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME          a partial one (no suffix)
    arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME[:VERSION]        an SSM parameter ARN
    /NAME[:VERSION]                                                  an SSM parameter in the fleet's
                                                                     region and account

The grant is on exactly that secret or parameter. The one pattern is a partial Secrets Manager
ARN: the secret's real ARN ends in a hyphen and six random characters the reference leaves out,
and "Using '??????' as a wildcard to match the 6 random characters assigned by Secrets Manager
avoids a problem that occurs if you use the '*' wildcard instead" (Secrets Manager user guide,
permissions_grant-limited-resources). A name that itself ends in a hyphen and six letters or
digits reads as a complete ARN, as Secrets Manager reads it ("those characters cause Secrets
Manager to assume that you're specifying a complete ARN", GetSecretValue `SecretId`).

An SSM parameter's ARN is `parameter/${ParameterNameWithoutLeadingSlash}` (Service Authorization
Reference), and a `:VERSION` or `:LABEL` selector is part of the request, not of the ARN.

Imports no SDK: the config check (settings.py) runs these before anything is registered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: The six characters Secrets Manager appends to a secret's name in its ARN.
SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
SECRET_ARN = re.compile(r"^arn:(?P<partition>aws[\w-]*):secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$")
PARAMETER_ARN = re.compile(
    r"^(?P<arn>arn:aws[\w-]*:ssm:[a-z0-9-]+:\d{12}:parameter/(?P<name>[\w.\-/]+))(?::[\w.\-]+)?$"
)
PARAMETER_NAME = re.compile(r"^/(?P<name>[\w.\-/]+?)(?::[\w.\-]+)?$")

Store = Literal["secretsmanager", "ssm"]


@dataclass(frozen=True)
class Grant:
    """The IAM resource an agent may read for one reference, and the service it is read from."""

    store: Store
    #: An ARN, or for a parameter by name (`/NAME`) the ARN's path after `parameter/`: the region
    #: and account are the deployment's (`parameter_arn`).
    resource: str
    by_name: bool = False


def grant_for(reference: str) -> Grant | None:
    """The grant a reference needs, or None when it is not one of the forms above."""
    if SECRET_ARN.match(reference):
        if SECRET_SUFFIX.search(reference.rsplit(":", 1)[1]):
            return Grant("secretsmanager", reference)
        return Grant("secretsmanager", reference + "-??????")
    if m := PARAMETER_ARN.match(reference):
        return Grant("ssm", m["arn"])
    if m := PARAMETER_NAME.match(reference):
        return Grant("ssm", m["name"].lstrip("/"), by_name=True)
    return None


def parameter_arn(path: str, *, partition: str, region: str, account: str) -> str:
    """The ARN of parameter `/path` in the fleet's own region and account."""
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{path}"


#: What a reference must look like, for the config check's message.
FORMS = (
    "a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf), "
    "an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME) or a parameter name (/NAME)"
)
