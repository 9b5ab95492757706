"""One SendMessage for a contract message: body, FIFO ids and the routing attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.messages import message_attributes

if TYPE_CHECKING:
    from pydantic import BaseModel
    from types_aiobotocore_sqs import SQSClient


async def send(
    sqs: SQSClient,
    *,
    queue_url: str,
    message: BaseModel,
    group_id: str,
    dedup_id: str,
) -> str:
    """Enqueue ``message`` (which has ``type`` and ``request_id``); return the SQS message id."""
    attrs: dict[str, Any] = {
        k: {"DataType": "String", "StringValue": v}
        for k, v in message_attributes(message, type_=message.type).items()  # type: ignore[attr-defined, arg-type]
    }
    resp = await sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=message.model_dump_json(),
        MessageGroupId=group_id,
        MessageDeduplicationId=dedup_id,
        MessageAttributes=attrs,
    )
    return resp["MessageId"]
