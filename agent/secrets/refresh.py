"""Re-read the agent's secrets now and then, so a rotated value reaches a running agent.

None of the three stores tells a VM or pod that a secret changed (AWS rotation, Key Vault and
Secret Manager send events to their own services, not to the consumer), so the agent polls: every
`AGENTFLEET_SECRETS_REFRESH` seconds (300 by default) it reads each reference again and puts a
changed value into its environment, where a handler that reads the variable per message sees it.
A handler that copied the value at import keeps its copy until its agent is replaced. A failed
re-read keeps the value the agent has and logs the variable's name, never a value.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, MutableMapping

from agentfleet.agent.logging import get_logger
from agentfleet.agent.secrets import SecretError, SecretStore, resolve


class SecretRefresher:
    """A daemon thread that re-reads `references` every `interval` seconds until `stop()`."""

    def __init__(
        self,
        references: Mapping[str, str],
        interval: float,
        stores: MutableMapping[str, SecretStore] | None = None,
    ) -> None:
        """`stores`: the stores the agent opened at start, reused (and added to) by each re-read."""
        self.references = dict(references)
        self.interval = interval
        self._stores: MutableMapping[str, SecretStore] = stores if stores is not None else {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentfleet-secrets", daemon=True)
        self._log = get_logger(component="secrets")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def refresh_once(self) -> list[str]:
        """Read every secret again; the names whose value changed (and is now in the environment)."""
        changed = []
        for name, reference in self.references.items():
            try:
                value = resolve({name: reference}, self._stores)[name]
            except SecretError as exc:
                self._log.warning("secret re-read failed; keeping the value read before", error=str(exc))
                continue
            if os.environ.get(name) != value:
                os.environ[name] = value
                changed.append(name)
        if changed:
            self._log.info("secrets rotated", names=sorted(changed))
        return changed

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.refresh_once()
