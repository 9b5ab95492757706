"""structlog configured once per process: JSON lines in production, readable console locally.

Field names are the ones DESIGN.md lists (level, event, request_id, action, outcome,
latency_ms, track_id, sandbox_id, message_group, receive_count): the seeds' CloudWatch metric
filters and Insights queries work on them unchanged.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

from faststream_sqs.logs import EVENT_ATTRIBUTE, FIELDS_ATTRIBUTE

LogFormat = Literal["auto", "json", "console"]


def sqs_broker_events(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """The SQS broker's own events (faststream_sqs.logs) as structured lines again: their
    name as the event and their fields as fields, not one ``event key=value`` string."""
    record = event_dict.get("_record")
    event = getattr(record, EVENT_ATTRIBUTE, None)
    if event:
        event_dict["event"] = event
        for key, value in getattr(record, FIELDS_ATTRIBUTE, {}).items():
            if value is not None:
                event_dict.setdefault(key, value)
    return event_dict


def configure_logging(fmt: LogFormat = "auto", level: str = "INFO") -> None:
    """Route structlog and stdlib logging through one renderer on stderr."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[sqs_broker_events, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Chatty libraries: one line per HTTP request to moto is noise, not information.
    for noisy in ("werkzeug", "botocore", "aiobotocore", "urllib3", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
