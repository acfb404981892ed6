"""The agent's settings, read from exactly the environment contract in agent/contract.py.

Every problem is reported at once, one line each, naming the variable, its value and what is
allowed, so a bad deployment fails at startup with a message an operator can act on:

    agentfleet: AGENTFLEET_CONCURRENCY='many' must be an integer >= 1
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace

from agentfleet.agent import contract as c

#: The default handler bound is this many visibility timeouts: the lease is sized for typical work,
#: so ten of them means the handler is stuck, not slow.
HANDLER_TIMEOUT_LEASES = 10
#: ... and at most 12 hours, SQS's limit on a message's visibility from its first receipt, past
#: which no lease renewal can keep it anyway.
MAX_HANDLER_TIMEOUT = 43_200


def default_handler_timeout(visibility_timeout: int) -> int:
    """AGENTFLEET_HANDLER_TIMEOUT when unset: ten visibility timeouts, at most 12 hours."""
    return min(MAX_HANDLER_TIMEOUT, HANDLER_TIMEOUT_LEASES * visibility_timeout)


class SettingsError(ValueError):
    """The environment is not a valid agent configuration; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Settings:
    """What one agent needs to run. Times are whole seconds."""

    backend: str
    queue: str
    handler: str | None = None
    dead_letter_queue: str = ""
    servicebus_namespace: str = ""
    state: str = ""
    bucket: str = ""
    cache: str = ""
    concurrency: int = 1
    drain_timeout: int = 60
    visibility_timeout: int = 300
    #: Seconds one handler may run before the agent calls it stuck: it stops renewing that
    #: message's lease (another agent gets it) and /healthz fails, so the platform replaces the
    #: agent. 0 = no bound.
    handler_timeout: int = default_handler_timeout(300)
    port: int = 8080
    health_host: str = "0.0.0.0"
    warmup: int = 0
    max_receive_count: int = 5
    lifecycle: str = "none"
    lifecycle_hook: str = ""
    group: str = ""
    region: str = ""
    #: Seconds between re-reads of AGENTFLEET_SECRETS (a rotation reaches running agents); 0 = never.
    secrets_refresh: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str], handler: str | None = None) -> Settings:
        """Read the contract's variables from `env`; `handler` (the --handler option) wins."""
        problems: list[str] = []

        def text(name: str) -> str:
            return env.get(name, "").strip()

        def integer(name: str, default: int, minimum: int) -> int:
            raw = text(name)
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"agentfleet: {name}={raw!r} must be an integer >= {minimum}")
                return default
            if value < minimum:
                problems.append(f"agentfleet: {name}={value} must be an integer >= {minimum}")
            return value

        backend = text(c.BACKEND)
        if not backend:
            problems.append(f"agentfleet: {c.BACKEND} is not set; choose one of {', '.join(c.BACKENDS)}")
        elif backend not in c.BACKENDS:
            problems.append(
                f"agentfleet: {c.BACKEND}={backend!r} is unknown; choose one of {', '.join(c.BACKENDS)}"
            )
        queue = text(c.QUEUE)
        if not queue:
            problems.append(
                f"agentfleet: {c.QUEUE} is not set; it names the queue to consume "
                "(SQS URL, Service Bus queue, Pub/Sub subscription path or SQLite file)"
            )
        if backend == "servicebus" and not text(c.SERVICEBUS_NAMESPACE):
            problems.append(
                f"agentfleet: {c.SERVICEBUS_NAMESPACE} is not set; the servicebus backend needs the "
                "fully qualified namespace (NAME.servicebus.windows.net)"
            )
        lifecycle = text(c.LIFECYCLE) or "none"
        if lifecycle not in c.LIFECYCLES:
            problems.append(
                f"agentfleet: {c.LIFECYCLE}={lifecycle!r} is unknown; choose one of {', '.join(c.LIFECYCLES)}"
            )
        if lifecycle == "aws-asg":
            for name in (c.LIFECYCLE_HOOK, c.GROUP):
                if not text(name):
                    problems.append(f"agentfleet: {name} is not set; {c.LIFECYCLE}=aws-asg needs it")
        health_host = text(c.HEALTH_HOST) or "0.0.0.0"
        try:
            ipaddress.ip_address(health_host)
        except ValueError:
            problems.append(
                f"agentfleet: {c.HEALTH_HOST}={health_host!r} must be an IP address to bind "
                "(0.0.0.0 every interface, 127.0.0.1 loopback)"
            )
        chosen_handler = (handler or "").strip() or text(c.HANDLER) or None
        visibility = integer(c.VISIBILITY_TIMEOUT, 300, 1)
        settings = cls(
            backend=backend,
            queue=queue,
            handler=chosen_handler,
            dead_letter_queue=text(c.DEAD_LETTER_QUEUE),
            servicebus_namespace=text(c.SERVICEBUS_NAMESPACE),
            state=text(c.STATE),
            bucket=text(c.BUCKET),
            cache=text(c.CACHE),
            concurrency=integer(c.CONCURRENCY, 1, 1),
            drain_timeout=integer(c.DRAIN_TIMEOUT, 60, 0),
            visibility_timeout=visibility,
            handler_timeout=integer(c.HANDLER_TIMEOUT, default_handler_timeout(visibility), 0),
            port=integer(c.PORT, 8080, 0),
            health_host=health_host,
            warmup=integer(c.WARMUP, 0, 0),
            max_receive_count=integer(c.MAX_RECEIVE_COUNT, 5, 1),
            lifecycle=lifecycle,
            lifecycle_hook=text(c.LIFECYCLE_HOOK),
            group=text(c.GROUP),
            region=text(c.REGION),
            secrets_refresh=integer(c.SECRETS_REFRESH, 300, 0),
        )
        if settings.port > 65535:
            problems.append(f"agentfleet: {c.PORT}={settings.port} must be a TCP port 0-65535 (0 = any free)")
        if problems:
            raise SettingsError(problems)
        return settings

    def with_handler(self, handler: str) -> Settings:
        return replace(self, handler=handler)
