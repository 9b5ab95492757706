"""The SQS calls the DLQ tools make: receive, and batches over receipt handles.

(Generic SQS helpers: they move to ``faststream_sqs`` with the consumer's copies.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = logging.getLogger(__name__)

#: SQS's ceiling for ReceiveMessage and every *Batch call.
BATCH: Final = 10
#: Receipt handles a release or delete may meet that mean "already gone / not held".
_GONE_CODES: Final = frozenset(
    {"ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"}
)


async def receive(sqs: SQSClient, url: str, *, visibility_s: int, wait_s: int) -> list[Any]:
    resp = await sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=BATCH,
        VisibilityTimeout=visibility_s,
        WaitTimeSeconds=wait_s,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(resp.get("Messages", []))


def chunks(items: list[Any], size: int = BATCH) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def set_visibility(sqs: SQSClient, url: str, handles: list[str], seconds: int) -> int:
    """ChangeMessageVisibilityBatch over any number of handles; returns how many failed."""
    failed = 0
    for chunk in chunks(handles):
        resp = await sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds}
                for i, h in enumerate(chunk)
            ],
        )
        for entry in resp.get("Failed", []):
            if entry.get("Code") not in _GONE_CODES:
                failed += 1
                log.warning("dlq_visibility_change_failed code=%s", entry.get("Code"))
    return failed


async def release(sqs: SQSClient, url: str, handles: list[str]) -> int:
    """Make held messages visible again at once (what a non-consuming read ends with)."""
    return await set_visibility(sqs, url, handles, 0)


async def delete(sqs: SQSClient, url: str, handles: list[str]) -> int:
    """DeleteMessageBatch; returns how many could not be deleted (they will reappear)."""
    failed = 0
    for chunk in chunks(handles):
        resp = await sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
        )
        for entry in resp.get("Failed", []):
            failed += 1
            log.warning("dlq_delete_failed code=%s", entry.get("Code"))
    return failed


async def release_quietly(sqs: SQSClient, url: str, handles: list[str]) -> None:
    """Release in a ``finally``: a failure here must not mask the error being raised."""
    if not handles:
        return
    try:
        await release(sqs, url, handles)
    except Exception as exc:  # the messages reappear after their visibility timeout anyway
        log.warning("dlq_release_failed count=%d error=%r", len(handles), exc)
