"""`agentfleet agent …`: the runtime's command line (the container's ENTRYPOINT is `agentfleet agent run`)."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

import typer

from agentfleet.agent import contract
from agentfleet.agent.settings import Settings, SettingsError

if TYPE_CHECKING:
    from agentfleet.agent.health import HealthServer
    from agentfleet.agent.lifecycle.base import TerminationWatcher
    from agentfleet.agent.secrets import SecretStore
    from agentfleet.agent.worker import Worker

agent_app = typer.Typer(
    # Click's own help layout: a flag stands bare (`--json`), a value shows its metavar
    # (`--stack STACK`), where typer's rich panels print Python types (`<bool>`, `<str>`).
    rich_markup_mode=None,
    name="agent",
    help="The agent runtime that runs inside every agent container (configured by AGENTFLEET_* variables).",
    no_args_is_help=True,
    add_completion=False,
)


#: SQS lets a receive wait (long-poll) at most 20 s (ReceiveMessage WaitTimeSeconds); the longer
#: the wait, the fewer empty receives an idle queue costs.
LONGEST_RECEIVE_WAIT_SECONDS = 20.0


def receive_wait_seconds(drain_timeout: float) -> float:
    """How long one receive may wait for a message: the broker's longest long poll, but at most a
    quarter of the drain, since a drain waits for the receive in progress to return."""
    return max(0.5, min(LONGEST_RECEIVE_WAIT_SECONDS, drain_timeout / 4))


@agent_app.callback()
def agent_group() -> None:
    """The agent runtime that runs inside every agent container (configured by AGENTFLEET_* variables)."""


class StartupError(RuntimeError):
    """The agent cannot start: bad environment, unimportable handler, unreachable resources."""


def build_agent(
    settings: Settings, env: Mapping[str, str] | None = None
) -> tuple[Worker, HealthServer, TerminationWatcher]:
    """Everything `run` needs, opened from settings: (worker, health server, watcher). `env` gives
    the busy-agent protection variables (AGENTFLEET_PROTECTION; none when absent)."""
    from agentfleet.agent.backends import open_backend
    from agentfleet.agent.bucket import open_bucket
    from agentfleet.agent.context import Resources
    from agentfleet.agent.handler import HandlerLoadError, Invoker, load_handler
    from agentfleet.agent.health import HealthServer, HealthState
    from agentfleet.agent.lifecycle import open_watcher
    from agentfleet.agent.middleware import default_layers
    from agentfleet.agent.protection import open_protector
    from agentfleet.agent.state import open_state
    from agentfleet.agent.worker import Worker

    try:
        handler = load_handler(settings.handler)
    except HandlerLoadError as e:
        raise StartupError(str(e)) from e
    try:
        backend = open_backend(settings)
    except Exception as e:
        raise StartupError(
            f"agentfleet: cannot open the {settings.backend} queue {contract.QUEUE}={settings.queue!r}: "
            f"{type(e).__name__}: {e}"
        ) from e
    try:
        resources = Resources(
            state=open_state(settings),
            bucket=open_bucket(settings),
            cache_url=settings.cache,
            # The lease the broker really grants: SQS takes the setting, Service Bus caps it at 300 s
            # and Pub/Sub at 600 s (each backend clamps its visibility_timeout).
            once_claim_seconds=float(min(settings.visibility_timeout, backend.visibility_timeout)),
        )
    except Exception as e:
        raise StartupError(
            f"agentfleet: cannot open state {contract.STATE}={settings.state!r} or bucket "
            f"{contract.BUCKET}={settings.bucket!r}: {type(e).__name__}: {e}"
        ) from e
    layers, metrics = default_layers(
        backend, visibility_timeout=settings.visibility_timeout, max_receive_count=settings.max_receive_count
    )
    try:  # outermost layer: busy from a handler's start to its settlement (docs/runtime.md)
        layers.insert(0, open_protector(env or {}, metrics.registry))
    except ValueError as e:
        raise StartupError(str(e)) from e
    worker = Worker(
        backend,
        Invoker(handler),
        resources,
        layers,
        concurrency=settings.concurrency,
        drain_timeout=settings.drain_timeout,
        # A receive in progress finishes before the drain: keep long polls short next to the timeout.
        wait_seconds=receive_wait_seconds(settings.drain_timeout),
        handler_timeout=settings.handler_timeout,
    )
    state = HealthState(
        backend,
        metrics.registry,
        warmup_seconds=settings.warmup,
        heartbeat=lambda: worker.heartbeat,
        draining=lambda: worker.draining,
        stale_after=max(60.0, 3 * worker.wait_seconds),
    )
    try:
        server = HealthServer(state, settings.port, settings.health_host)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            problem = f"{contract.PORT}={settings.port} is already in use; choose a free port"
        else:
            problem = (
                f"cannot serve {contract.PORT}={settings.port} on "
                f"{contract.HEALTH_HOST}={settings.health_host}: {e.strerror or e}"
            )
        raise StartupError(f"agentfleet: {problem} (for /healthz, /ready and /metrics)") from e
    return worker, server, open_watcher(settings)


def load_secrets(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, SecretStore]]:
    """Read every secret `AGENTFLEET_SECRETS` names, with the agent's own identity, into this
    process's environment before the handler is imported (a handler may read its API key at import,
    as it reads any variable); returns name -> reference, and the stores opened to read them (the
    refresher reuses their clients). A secret that cannot be read stops the start: an agent
    without its credentials would fail every message into the dead-letter queue."""
    from agentfleet.agent.secrets import SecretError, parse_references, resolve

    opened: dict[str, SecretStore] = {}
    try:
        references = parse_references(env.get(contract.SECRETS))
        values = resolve(references, opened)
    except SecretError as e:
        raise StartupError(f"agentfleet: cannot read the secrets in {contract.SECRETS}: {e}") from None
    os.environ.update(values)
    return references, opened


def run_agent(env: Mapping[str, str], handler: str | None = None) -> int:
    """Read the environment contract, start the agent, drain on SIGTERM; the process exit code."""
    from agentfleet.agent.drain import StopRequest, install_signal_handlers, run_until_drained

    # First of all: a SIGTERM while the handler is imported or the backend opened is a request
    # to stop, honoured before the first receive (exit 0), not death by the default handler.
    stop_request = StopRequest()
    install_signal_handlers(stop_request.request)

    from agentfleet.agent.logging import configure_logging, get_logger

    configure_logging()
    log = get_logger(component="agent")
    try:
        settings = Settings.from_env(env, handler)
        secret_references, secret_stores = load_secrets(env)
        worker, server, watcher = build_agent(settings, env)
    except (SettingsError, StartupError) as e:
        print(str(e), file=sys.stderr)
        return 2
    refresher = None
    if secret_references:
        log.info("secrets read", names=sorted(secret_references))  # names only, never a value
        if settings.secrets_refresh:
            from agentfleet.agent.secrets.refresh import SecretRefresher

            refresher = SecretRefresher(secret_references, settings.secrets_refresh, secret_stores)
            refresher.start()
    server.start()
    log.info(
        "agent started",
        backend=settings.backend,
        queue=settings.queue,
        handler=settings.handler,
        concurrency=settings.concurrency,
        port=server.port,
        pid=os.getpid(),
    )
    try:
        return run_until_drained(worker, watcher, stop_request)
    finally:
        if refresher is not None:
            refresher.stop()
        server.stop()
        worker.backend.close()
        worker.resources.close()


@agent_app.command("run")
def run(
    handler: str = typer.Option(
        None,
        "--handler",
        help=f"the handler as module:function; overrides {contract.HANDLER}",
        show_default=False,
        metavar="MODULE:FUNCTION",
    ),
) -> None:
    """Consume the queue named by AGENTFLEET_BACKEND / AGENTFLEET_QUEUE with the handler, serving
    /healthz /ready /metrics on AGENTFLEET_PORT, until SIGTERM or a termination notice; then drain
    (give back unstarted messages, finish in-flight ones within AGENTFLEET_DRAIN_TIMEOUT) and exit.
    Exit codes: 0 drained cleanly, 1 drain timed out, 2 bad environment or handler."""
    raise typer.Exit(run_agent(os.environ, handler))
