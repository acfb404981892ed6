"""structlog JSON logging: one line per event, one line per message outcome.

The outcome line carries `message_id`, `delivery_count`, `duration_ms` and `result`
(succeeded · retried · dead_lettered · lease_lost · settle_failed), plus `error` when there was one.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

_configured = False


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stdout, ISO timestamps; idempotent."""
    global _configured
    if _configured:
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # No file bound here: each logger writes to the sys.stdout of its creation (tests swap it).
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(**bound: Any) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("agentfleet").bind(**bound)
    return logger
