"""faststream_sqs.helpers on moto: a non-consuming read, batched releases and deletes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqs_moto import QueueFactory, queue_counts

from faststream_sqs.helpers import QueuePeek, QueueUrls, chunks, delete, receive

pytestmark = pytest.mark.integration


async def test_a_peek_reads_every_group_of_a_fifo_queue_and_leaves_them_all_there(
    make_queue: QueueFactory, sqs: Any
) -> None:
    # GIVEN a FIFO queue holding 12 messages in 4 groups (a receive shows one group at a time)
    queue = await make_queue(fifo=True)
    for n in range(12):
        await sqs.send_message(
            QueueUrl=queue.url,
            MessageBody=str(n),
            MessageGroupId=f"g{n % 4}",
            MessageDeduplicationId=uuid.uuid4().hex,
        )

    # WHEN it is peeked
    seen: list[str] = []
    async with QueuePeek(sqs, queue.url, visibility_s=30, deadline_s=10) as batches:
        async for messages in batches:
            seen.extend(m["Body"] for m in messages)
        held = batches.read

    # THEN each message read was read once and every group was reached (a FIFO queue shows
    # a group's later messages only once its earlier ones are gone), and every message is
    # visible again afterwards
    assert len(seen) == len(set(seen)) == held
    assert {"0", "1", "2", "3"} <= set(seen)
    assert await queue_counts(sqs, queue.url) == (12, 0)


async def test_delete_takes_any_number_of_handles_and_urls_are_resolved_once(
    make_queue: QueueFactory, sqs: Any
) -> None:
    queue = await make_queue()
    for batch in chunks([str(n) for n in range(15)]):
        await sqs.send_message_batch(
            QueueUrl=queue.url,
            Entries=[{"Id": body, "MessageBody": body} for body in batch],
        )
    urls = QueueUrls(sqs)
    url = await urls.url(queue.name)
    assert url == queue.url
    handles: list[str] = []
    while len(handles) < 15:
        handles += [m["ReceiptHandle"] for m in await receive(sqs, url, visibility_s=30)]

    assert await delete(sqs, url, handles) == 0
    assert await queue_counts(sqs, url) == (0, 0)
