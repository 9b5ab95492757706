"""Graceful shutdown on moto: running handlers finish, the rest is released at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqs_moto import (
    QueueFactory,
    drain,
    queue_counts,
    running,
    wait_until,
)

from faststream_sqs.annotations import SQSMessage

pytestmark = pytest.mark.integration

CONSUMER = Path(__file__).with_name("sigterm_consumer.py")


class Item(BaseModel):
    n: int


async def preload(sqs: Any, url: str, groups: dict[str, list[int]]) -> None:
    for group, numbers in groups.items():
        await sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": Item(n=n).model_dump_json(),
                    "MessageGroupId": group,
                    "MessageDeduplicationId": uuid.uuid4().hex,
                }
                for n in numbers
            ],
        )


def journal_lines(journal: Path, kind: str) -> list[int]:
    if not journal.exists():
        return []
    return [
        int(line.split()[1]) for line in journal.read_text().splitlines() if line.startswith(kind)
    ]


@pytest.mark.slow
async def test_sigterm_finishes_running_handlers_releases_the_rest_and_exits_zero(
    moto_url: str, make_queue: QueueFactory, make_broker: Any, sqs: Any, tmp_path: Path
) -> None:
    # GIVEN a consumer process holding two FIFO groups of five (visibility 30 s)
    queue = await make_queue(fifo=True)
    await preload(sqs, queue.url, {"a": [0, 1, 2, 3, 4], "b": [5, 6, 7, 8, 9]})
    journal = tmp_path / "journal"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CONSUMER),
        moto_url,
        queue.name,
        str(journal),
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await wait_until(lambda: len(journal_lines(journal, "start")) >= 2, 30, what="2 running")
        # WHEN it gets SIGTERM while two handlers run and the rest wait in its buffer
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    # THEN it exits 0 once every handler it started has finished
    assert process.returncode == 0, output.decode()[-3000:]
    started, done = journal_lines(journal, "start"), journal_lines(journal, "done")
    assert sorted(started) == sorted(done)
    assert done

    # AND the unstarted messages were released at once: a second consumer gets them long
    # before the 30 s visibility timeout, in group order, and nothing is handled twice
    broker, _ = await make_broker()
    second: list[tuple[int, int]] = []

    @broker.subscriber(queue.name, max_workers=2, wait_time_s=1)
    async def handle(item: Item, msg: SQSMessage) -> None:
        second.append((item.n, msg.receive_count))

    released_at = time.monotonic()
    async with running(broker):
        await wait_until(lambda: len(second) == 10 - len(done), 10, what="the released rest")
        await wait_until(
            lambda: _counts_are(sqs, queue.url, (0, 0)), 10, what="every message deleted"
        )
    assert time.monotonic() - released_at < 20
    handled = done + [n for n, _ in second]
    assert sorted(handled) == list(range(10))
    for group in ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9]):
        assert [n for n in handled if n in group] == group


async def _counts_are(sqs: Any, url: str, expected: tuple[int, int]) -> bool:
    return await queue_counts(sqs, url) == expected


async def test_stop_cancels_handlers_past_the_graceful_timeout_and_releases_their_messages(
    make_queue: QueueFactory, make_broker: Any, sqs: Any
) -> None:
    # GIVEN a handler far slower than the broker's graceful timeout, its group-mates queued
    queue = await make_queue(fifo=True)
    broker, _ = await make_broker(graceful_timeout=0.5)
    started: list[int] = []

    @broker.subscriber(queue.name, wait_time_s=1, visibility_timeout_s=30)
    async def handle(item: Item) -> None:
        started.append(item.n)
        await asyncio.sleep(30)

    await preload(sqs, queue.url, {"g": [0, 1, 2]})
    await broker.start()
    try:
        await wait_until(lambda: started == [0], 10, what="the slow handler")
    finally:
        # WHEN the broker stops
        stopping = time.monotonic()
        await broker.stop()
    took = time.monotonic() - stopping

    # THEN it returns soon after the timeout and every message is visible again at once
    assert took < 5
    assert await queue_counts(sqs, queue.url) == (3, 0)
    back = await drain(sqs, queue.url)
    assert [Item.model_validate_json(m["Body"]).n for m in back] == [0, 1, 2]
    assert started == [0]
