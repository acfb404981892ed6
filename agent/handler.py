"""Loading and calling the user's handler: `def handle(message, ctx)` or `async def handle(...)`.

The handler is named `module:function` (AGENTFLEET_HANDLER or `--handler`). A handler that cannot
be imported is a startup error naming the variable, so a broken image fails its health check at
once instead of consuming (and failing) every message.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from agentfleet.agent import contract
from agentfleet.agent.errors import PermanentError as PermanentError  # its public home is here too

if TYPE_CHECKING:
    from agentfleet.agent.backends.base import Message
    from agentfleet.agent.context import Context

Handler = Callable[["Message", "Context"], Any]


class HandlerLoadError(RuntimeError):
    """The handler named by AGENTFLEET_HANDLER / --handler cannot be loaded."""


def load_handler(spec: str | None) -> Handler:
    """Import `module:function` and return the callable; errors name AGENTFLEET_HANDLER."""
    var = contract.HANDLER
    if not spec:
        raise HandlerLoadError(
            f"agentfleet: {var} is not set and no --handler was given; name the handler as module:function"
        )
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise HandlerLoadError(f"agentfleet: {var}={spec!r} must be module:function, e.g. myapp.agent:handle")
    # Like `python -m`: a handler module in the folder the agent was started from imports
    # (`agentfleet agent run --handler mymod:handle` next to mymod.py), as `local up` allows.
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # ImportError, or the module itself failing at import time
        raise HandlerLoadError(
            f"agentfleet: {var}={spec!r}: cannot import module {module_name!r}: {type(e).__name__}: {e}"
        ) from e
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise HandlerLoadError(f"agentfleet: {var}={spec!r}: module {module_name!r} has no {attr!r}")
    if not callable(target):
        kind = type(target).__name__
        raise HandlerLoadError(f"agentfleet: {var}={spec!r}: {attr!r} is a {kind}, not callable")
    handler: Handler = target
    return handler


class Invoker:
    """Calls sync handlers directly (on the worker's thread) and async handlers on one shared
    event loop running in a background thread, so async clients can be reused across messages."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="agentfleet-async", daemon=True).start()
                self._loop = loop
            return self._loop

    def __call__(self, message: Message, ctx: Context) -> Any:
        result = self.handler(message, ctx)
        if result is not None and inspect.isawaitable(result):
            coro: Coroutine[Any, Any, Any] = _as_coroutine(result)
            try:
                return asyncio.run_coroutine_threadsafe(coro, self._event_loop()).result()
            except _Escaped as escaped:
                raise escaped.error from None  # now on the handler's thread: that message's failure
        return result

    def close(self) -> None:
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None


class _Escaped(Exception):
    """Carries a handler's SystemExit / KeyboardInterrupt out of the event loop as an ordinary
    exception: raised inside a task, either would stop `run_forever` and kill the loop thread, the
    caller's future would never resolve, and every later async message would wait forever."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


async def _as_coroutine(awaitable: Any) -> Any:
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt) as e:
        raise _Escaped(e) from e
