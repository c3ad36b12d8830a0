"""structlog configuration: JSON lines in production, readable console output with --debug.

Every log line goes through the same processors, whoever writes it: the gateway (structlog), the
standard library's loggers (granian, aiohttp, faster-whisper) and granian's own server logs. Lines
written while a request is served carry its `request_id`; secrets and audio are scrubbed."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from voxtral_gateway.observability.redaction import redact_event

GRANIAN_LOGGERS = ("_granian", "granian.access")

GRANIAN_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {},
    "handlers": {},
    "loggers": {name: {"handlers": [], "propagate": True} for name in GRANIAN_LOGGERS},
}
"""granian's `log_dictconfig`: its loggers keep no handler of their own and propagate to the root
logger, which `configure_logging` gives the structlog formatter (granian merges this at top level)."""


def add_process_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """`pid`: which granian worker (or the main process) wrote the line."""
    event_dict["pid"] = os.getpid()
    return event_dict


def configure_logging(debug: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_process_id,
    ]
    renderer = structlog.dev.ConsoleRenderer() if debug else structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact_event, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Route the standard library's records (granian, aiohttp, faster-whisper) through structlog too.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_event,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in GRANIAN_LOGGERS:
        granian_logger = logging.getLogger(name)
        granian_logger.handlers[:] = []
        granian_logger.propagate = True
