"""capture_logs(): the broker machinery's events (faststream_sqs.logs) as dicts.

Each entry is ``{"event": name, **fields, "log_level": "warning"}``, whichever logger the
event went to (the broker's, TestSQSBroker's mock, or the fallback one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from faststream_sqs.logs import EventLog


@contextmanager
def capture_logs() -> Iterator[list[dict[str, Any]]]:
    entries: list[dict[str, Any]] = []
    emit = EventLog._emit

    def recording(self: EventLog, level: int, event: str, fields: dict[str, Any]) -> None:
        entries.append({"event": event, **fields, "log_level": logging.getLevelName(level).lower()})
        emit(self, level, event, fields)

    with mock.patch.object(EventLog, "_emit", recording):
        yield entries
