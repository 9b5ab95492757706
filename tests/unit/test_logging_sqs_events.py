"""The SQS broker's events keep their structure in the app's JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from faststream_sqs.logs import EventLog
from infra.logging import configure_logging


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The app's logging set up for one test, writing to a buffer; put back after."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    configure_logging("json", "INFO")
    out = io.StringIO()
    root.handlers[0].stream = out  # type: ignore[attr-defined]
    try:
        yield out
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


def test_a_broker_event_is_a_structured_json_line(json_lines: io.StringIO) -> None:
    EventLog().warning("message_rejected", queue="q.fifo", message_id="m-1", policy="redrive")

    (line,) = json_lines.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "message_rejected"
    assert entry["queue"] == "q.fifo"
    assert entry["message_id"] == "m-1"
    assert entry["policy"] == "redrive"
    assert entry["level"] == "warning"
