"""`PermanentError`, the runtime's one word for "retrying cannot help", in a module of its own so
every part of the runtime (the handler, the state stores) can raise it without importing more."""

from __future__ import annotations


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help (bad input, unknown type …): the message is
    dead-lettered at once with this error's text as the reason."""


def describe(error: BaseException) -> str:
    """An error as one reason line: its type and text, at most 1,000 characters."""
    return f"{type(error).__name__}: {error}"[:1000]
