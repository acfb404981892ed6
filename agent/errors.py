"""`PermanentError`, the runtime's one word for "retrying cannot help", in a module of its own so
every part of the runtime (the handler, the state stores) can raise it without importing more."""

from __future__ import annotations


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help (bad input, unknown type …): the message is
    dead-lettered at once with this error's text as the reason."""
