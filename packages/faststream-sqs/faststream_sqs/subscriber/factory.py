"""create_subscriber: options in, an SQSSubscriber with its specification out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faststream._internal.endpoint.subscriber.call_item import CallsCollection

from faststream_sqs.queue import is_fifo_name

from .config import SQSSubscriberConfig, SQSSubscriberSpecificationConfig
from .specification import SQSSubscriberSpecification
from .usecase import SQSSubscriber

if TYPE_CHECKING:
    from faststream.middlewares import AckPolicy

    from faststream_sqs.broker.config import SQSBrokerConfig
    from faststream_sqs.settlement import RejectPolicy

    from .failures import DecodeErrorHook


def create_subscriber(
    *,
    queue: str,
    config: SQSBrokerConfig,
    max_workers: int,
    batch_size: int,
    wait_time_s: int,
    visibility_timeout_s: int | None,
    reject: RejectPolicy,
    dlq: str | None,
    on_decode_error: DecodeErrorHook | None,
    max_attempts: int,
    retry_backoff_s: float,
    ack_policy: AckPolicy,
    no_reply: bool,
    title_: str | None,
    description_: str | None,
    include_in_schema: bool,
) -> SQSSubscriber:
    """Build a subscriber (options checked) and its AsyncAPI specification."""
    subscriber_config = SQSSubscriberConfig(
        queue=queue,
        max_workers=max_workers,
        batch_size=batch_size,
        wait_time_s=wait_time_s,
        visibility_timeout_s=visibility_timeout_s,
        reject=reject,
        dlq=dlq,
        on_decode_error=on_decode_error,
        max_attempts=max_attempts,
        retry_backoff_s=retry_backoff_s,
        no_reply=no_reply,
        _outer_config=config,
        _ack_policy=ack_policy,
    )
    calls = CallsCollection[Any]()
    specification = SQSSubscriberSpecification(
        config,
        SQSSubscriberSpecificationConfig(
            queue=queue,
            fifo=is_fifo_name(queue),
            title_=title_,
            description_=description_,
            include_in_schema=include_in_schema,
        ),
        calls,
    )
    return SQSSubscriber(subscriber_config, specification, calls)
