"""Every fake the tests use, in one folder.

Most stand at the cloud SDKs' boundary, for the services with no emulator on this machine
(Service Bus, Pub/Sub, Firestore, GCS). Each mirrors the documented behaviour of the SDK object it
replaces, names that behaviour in its docstring, and raises the SDK's own exception classes, so
the backend code under test is the code that runs against the real service. The others:
`metadata` (the clouds' instance metadata servers), `brokers` (real SQLite queues with one
behaviour changed), `stuck_agent` (an agent process whose /healthz fails)."""

import inspect
from typing import Any


def surface_mismatches(fake: type, real: type, methods: list[str]) -> list[str]:
    """Where `fake` does not take the calls `real` takes: each named method must exist on the
    real class, and every parameter the fake names must be a parameter of the real method (or the
    real one takes **kwargs). Guards the fakes against drifting from the SDK they stand in for."""
    problems = []
    for name in methods:
        real_fn: Any = getattr(real, name, None)
        if real_fn is None:
            problems.append(f"{real.__name__}.{name} does not exist")
            continue
        real_params = inspect.signature(real_fn).parameters
        takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in real_params.values())
        takes_args = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in real_params.values())
        for param in inspect.signature(getattr(fake, name)).parameters.values():
            if param.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
                continue
            if takes_args and param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
                continue  # e.g. Firestore's collection(*collection_path): passed positionally
            if param.name not in real_params and not takes_kwargs:
                problems.append(f"{real.__name__}.{name} has no parameter {param.name!r}")
    return problems
