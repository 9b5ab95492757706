"""The SQS broker's events keep their structure in the app's JSON log lines."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from faststream_sqs.logs import EventLog
from tests.logs import rendered_logs


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The app's logging for one test, rendered to a buffer, undone after (tests/logs.py:
    a configuration left behind would blind ``capture_logs`` in later tests)."""
    with rendered_logs("json", "INFO") as out:
        yield out


def test_a_broker_event_is_a_structured_json_line(json_lines: io.StringIO) -> None:
    EventLog().warning("message_rejected", queue="q.fifo", message_id="m-1", policy="redrive")

    (line,) = json_lines.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "message_rejected"
    assert entry["queue"] == "q.fifo"
    assert entry["message_id"] == "m-1"
    assert entry["policy"] == "redrive"
    assert entry["level"] == "warning"
