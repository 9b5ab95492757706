"""Purging a DLQ (PurgeQueue: one per queue per 60 s)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from producers.ops.dlq.model import DlqPair
from producers.ops.errors import OpsError
from producers.ops.queues import queue_depth, queue_url

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = logging.getLogger(__name__)


async def purge(sqs: SQSClient, *, pair: DlqPair) -> int:
    """PurgeQueue on the DLQ; returns its approximate depth before the purge."""
    url = await queue_url(sqs, pair.dlq)
    depth = await queue_depth(sqs, pair.dlq, url=url)
    try:
        await sqs.purge_queue(QueueUrl=url)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if "PurgeQueueInProgress" in code:
            raise OpsError(
                f"a purge of {pair.dlq} is already in progress (SQS allows one per 60 s)"
            ) from None
        raise
    log.info("dlq_purged queue=%s count=%d", pair.dlq, depth.total)
    return depth.total
