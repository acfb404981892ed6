"""Names of the fleet's Azure resources that Azure constrains beyond the fleet name's own rules.

Storage account names are global, 3-24 lowercase letters and digits: the fleet name without
dashes plus a hash of the resource group's id, so the name is stable across `pulumi up` runs (as
ARM's `uniqueString(resourceGroup().id)` is) and distinct between stacks. Table names are
alphanumeric, 3-63 characters, a letter first.
"""

from __future__ import annotations

import hashlib
import re

TABLE_SUFFIX = "state"


def account_name(fleet_name: str, resource_group_id: str) -> str:
    """A valid, stable, globally-distinct storage account name for this fleet and resource group."""
    stem = re.sub(r"[^a-z0-9]", "", fleet_name.lower())[:16]
    digest = hashlib.sha256(resource_group_id.lower().encode()).hexdigest()[:8]
    return f"{stem}{digest}"


def table_name(fleet_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", fleet_name) + TABLE_SUFFIX
