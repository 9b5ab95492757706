"""Reading a DLQ without consuming it: list, show, and the reply rows that explain it.

Messages are received with a visibility timeout, held while more are read (a FIFO queue
hides a group while one of its messages is in flight, and holding what was read is how the
next receive reaches other groups), then released at once with ``ChangeMessageVisibility
0``. Each receive raises a message's ApproximateReceiveCount, so the counts shown include
the listing's own receive; nothing else changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from faststream_sqs.helpers import QueuePeek, chunks
from producers.ops.dlq.model import DeadLetter, DlqPair, Selector, dlq_pairs
from producers.ops.queues import queue_depth, queue_url
from schemas.ids import is_request_id
from schemas.items import reply_from_item
from schemas.names import ResourceNames
from schemas.replies import ReplyRecord

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient

#: How long ``list``/``show`` keep collecting before they release what they hold.
PEEK_DEADLINE_S: Final = 15.0
#: Held messages must not reappear while a peek is still collecting (deadline + margin).
PEEK_VISIBILITY_S: Final = 30


@dataclass
class Peek:
    """What a non-consuming read found in one DLQ."""

    pair: DlqPair
    letters: list[DeadLetter]
    read: int  # messages received, selected or not
    depth: int  # visible + in flight when the read started (approximate)

    @property
    def not_reached(self) -> int:
        """Messages the read could not see: a FIFO queue shows a group's later messages
        only once its earlier ones are deleted, and others may hold some in flight."""
        return max(self.depth - self.read, 0)


async def peek(
    sqs: SQSClient,
    *,
    pair: DlqPair,
    selector: Selector = Selector(),
    limit: int = 100,
    deadline_s: float = PEEK_DEADLINE_S,
    visibility_s: int = PEEK_VISIBILITY_S,
    wait_s: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> Peek:
    """Read up to ``limit`` selected messages without consuming any.

    Receives repeatedly, holding everything read, until a receive brings nothing new, the
    limit is met or the deadline passes; then releases everything it holds.
    """
    url = await queue_url(sqs, pair.dlq)
    depth = await queue_depth(sqs, pair.dlq, url=url)
    letters: list[DeadLetter] = []
    reading = QueuePeek(
        sqs, url, visibility_s=visibility_s, deadline_s=deadline_s, wait_s=wait_s, clock=clock
    )
    async with reading as batches:
        async for new in batches:
            for m in new:
                letter = DeadLetter.from_sqs(pair, m)
                if len(letters) < limit and selector.matches(letter):
                    letters.append(letter)
            if len(letters) >= limit:
                break
    return Peek(
        pair=pair, letters=letters, read=reading.read, depth=depth.visible + depth.in_flight
    )


async def get_replies(
    ddb: DynamoDBClient, *, table: str, request_ids: Iterable[str]
) -> dict[str, ReplyRecord]:
    """Reply rows by request id (BatchGetItem, strongly consistent); absent ids omitted."""
    wanted = sorted({r for r in request_ids if is_request_id(r)})
    found: dict[str, ReplyRecord] = {}
    for chunk in chunks(wanted, 100):
        request: dict[str, Any] = {
            table: {"Keys": [{"request_id": {"S": r}} for r in chunk], "ConsistentRead": True}
        }
        for attempt in range(5):
            resp = await ddb.batch_get_item(RequestItems=request)
            for item in resp.get("Responses", {}).get(table, []):
                record = reply_from_item(item)
                found[record.request_id] = record
            request = dict(resp.get("UnprocessedKeys") or {})
            if not request:
                break
            await asyncio.sleep(0.05 * 2**attempt)  # DynamoDB asks us to back off
    return found


async def attach_reasons(
    ddb: DynamoDBClient, *, table: str, letters: list[DeadLetter]
) -> dict[str, ReplyRecord]:
    """Fill in reasons from reply rows where no reject attribute gave one; return the rows."""
    replies = await get_replies(
        ddb, table=table, request_ids=(lt.request_id or "" for lt in letters)
    )
    for letter in letters:
        reply = replies.get(letter.request_id or "")
        if letter.reason is None and reply is not None and reply.error is not None:
            letter.reason = f"{reply.error.code.value}: {reply.error.message}"
            letter.reason_source = "reply"
    return replies


async def find(
    sqs: SQSClient,
    ddb: DynamoDBClient,
    *,
    names: ResourceNames,
    ident: str,
    kind: str | None,
    wait_s: int = 1,
) -> tuple[DeadLetter, ReplyRecord | None] | None:
    """The dead letter whose request id or message id is ``ident``, and its reply row."""
    for pair in dlq_pairs(names, kind):
        found = await peek(sqs, pair=pair, selector=Selector(ident=ident), limit=1, wait_s=wait_s)
        if found.letters:
            letter = found.letters[0]
            replies = await attach_reasons(ddb, table=names.replies_table, letters=[letter])
            return letter, replies.get(letter.request_id or "")
    return None


async def peek_pairs(
    sqs: SQSClient,
    ddb: DynamoDBClient,
    *,
    pairs: Iterable[DlqPair],
    replies_table: str,
    selector: Selector = Selector(),
    limit: int = 100,
    wait_s: int = 1,
) -> list[Peek]:
    """Peek the DLQs in turn until ``limit`` selected messages are read, with their reasons."""
    peeks: list[Peek] = []
    left = limit
    for pair in pairs:
        found = await peek(sqs, pair=pair, selector=selector, limit=left, wait_s=wait_s)
        peeks.append(found)
        left -= len(found.letters)
        if left <= 0:
            break
    letters = [lt for p in peeks for lt in p.letters]
    await attach_reasons(ddb, table=replies_table, letters=letters)
    return peeks
