"""Events of the broker's own machinery, logged through the broker's logger.

FastStream's brokers log through one logger (`SQSBroker(logger=..., log_level=...)`,
default ``faststream.access.sqs``), whose lines carry the queue and the message id. The
receive loop, heartbeat, acks, settler and retry layer log through it too: each event is
a line ``event key=value ...`` at its level, with ``queue`` and ``message_id`` in the
record's context, and the event's name and fields as the record attributes
``sqs_event`` and ``sqs_fields`` (for a structured handler, or a test, to read).

A component built without a broker (a unit test, a helper) logs to the standard
``faststream_sqs`` logger instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ("EVENT_ATTRIBUTE", "FIELDS_ATTRIBUTE", "EventLog", "LogFn")

#: A broker logger's `log(message, log_level, extra=..., exc_info=...)`
#: (FastStream's LoggerState.log).
LogFn = Callable[..., None]

EVENT_ATTRIBUTE = "sqs_event"
FIELDS_ATTRIBUTE = "sqs_fields"

_fallback = logging.getLogger("faststream_sqs")


def _standard_log(
    message: str,
    log_level: int | None = None,
    extra: dict[str, Any] | None = None,
    exc_info: BaseException | None = None,
) -> None:
    _fallback.log(log_level or logging.INFO, message, extra=extra, exc_info=exc_info)


class EventLog:
    """`warning("event", key=value, ...)` and friends, sent to a broker logger."""

    __slots__ = ("_log", "_queue")

    def __init__(self, log: LogFn | None = None, *, queue: str = "") -> None:
        self._log = log or _standard_log
        self._queue = queue

    def for_queue(self, queue: str) -> EventLog:
        """The same logger, naming `queue` in every line."""
        return EventLog(self._log, queue=queue)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)

    def _emit(self, level: int, event: str, fields: dict[str, Any]) -> None:
        queue = str(fields.get("queue") or self._queue)
        message_id = str(fields.get("message_id") or "")
        text = " ".join(
            [event, *(f"{key}={value}" for key, value in fields.items() if value is not None)]
        )
        extra = {
            "queue": queue,
            "message_id": message_id,
            EVENT_ATTRIBUTE: event,
            FIELDS_ATTRIBUTE: dict(fields),
        }
        self._log(text, log_level=level, extra=extra)
