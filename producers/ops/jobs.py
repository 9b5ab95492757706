"""``jobs run``: enqueue an admin job on the jobs queue and, optionally, wait for its reply.

The message is what the admin API enqueues (CONTRACT.md "Queues"): group id = the job type
(so runs of one job never overlap), deduplication id = request id = ``adm_`` + a ULID,
``requested_by`` = ``admin``. The reply row is polled with strongly consistent GetItem.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ulid import ULID

from producers.enqueue import send
from schemas.items import reply_from_item
from schemas.messages import ADMIN_JOBS, JOB_MESSAGE, MessageType
from schemas.replies import ReplyRecord

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient

#: Job names an operator may type: the admin route slugs and the message types they map to.
JOB_NAMES: Final[dict[str, MessageType]] = {
    **ADMIN_JOBS,
    **{t.value: t for t in ADMIN_JOBS.values()},
}

#: First poll after 100 ms, doubling up to 1 s (the track client's rhythm).
FIRST_POLL_S: Final = 0.1
MAX_POLL_S: Final = 1.0


def admin_request_id() -> str:
    return f"adm_{ULID()}"


async def enqueue_job(
    sqs: SQSClient, *, queue_url: str, job: MessageType, request_id: str | None = None
) -> tuple[str, str]:
    """Send one admin job; returns (request id, SQS message id)."""
    request_id = request_id or admin_request_id()
    message = JOB_MESSAGE.validate_python(
        {"type": job.value, "request_id": request_id, "requested_by": "admin"}
    )
    message_id = await send(
        sqs, queue_url=queue_url, message=message, group_id=job.value, dedup_id=request_id
    )
    return request_id, message_id


async def get_reply(ddb: DynamoDBClient, *, table: str, request_id: str) -> ReplyRecord | None:
    resp = await ddb.get_item(
        TableName=table, Key={"request_id": {"S": request_id}}, ConsistentRead=True
    )
    item = resp.get("Item")
    return reply_from_item(item) if item else None


async def wait_reply(
    ddb: DynamoDBClient,
    *,
    table: str,
    request_id: str,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> ReplyRecord | None:
    """Poll until the reply is terminal; None when ``timeout_s`` passes first."""
    deadline = clock() + timeout_s
    delay = FIRST_POLL_S
    while True:
        reply = await get_reply(ddb, table=table, request_id=request_id)
        if reply is not None and reply.terminal:
            return reply
        left = deadline - clock()
        if left <= 0:
            return None
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 2, MAX_POLL_S)


async def enqueue_operator_action(
    sqs: SQSClient,
    *,
    queue_url: str,
    job: MessageType,
    sandbox_id: str,
    reason: str,
    request_id: str | None = None,
) -> str:
    """Send one v2 operator action (group ``sandbox:<id>``, as the admin route); its id."""
    request_id = request_id or admin_request_id()
    message = JOB_MESSAGE.validate_python(
        {
            "type": job.value,
            "request_id": request_id,
            "requested_by": "admin",
            "sandbox_id": sandbox_id,
            "reason": reason,
        }
    )
    await send(
        sqs,
        queue_url=queue_url,
        message=message,
        group_id=f"sandbox:{sandbox_id}",
        dedup_id=request_id,
    )
    return request_id
