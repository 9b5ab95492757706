"""create_publisher: options in, an SQSPublisher with its specification out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faststream_sqs.queue import is_fifo_name

from .config import SQSPublisherConfig, SQSPublisherSpecificationConfig
from .specification import SQSPublisherSpecification
from .usecase import SQSPublisher

if TYPE_CHECKING:
    from faststream_sqs.broker.config import SQSBrokerConfig


def create_publisher(
    *,
    queue: str,
    config: SQSBrokerConfig,
    message_group_id: str | None,
    attributes: dict[str, str] | None,
    schema_: Any | None,
    title_: str | None,
    description_: str | None,
    include_in_schema: bool,
) -> SQSPublisher:
    """Build a publisher and its AsyncAPI specification."""
    publisher_config = SQSPublisherConfig(
        queue=queue,
        message_group_id=message_group_id,
        attributes=dict(attributes or {}),
        _outer_config=config,
    )
    specification = SQSPublisherSpecification(
        config,
        SQSPublisherSpecificationConfig(
            queue=queue,
            fifo=is_fifo_name(queue),
            schema_=schema_,
            title_=title_,
            description_=description_,
            include_in_schema=include_in_schema,
        ),
    )
    return SQSPublisher(publisher_config, specification)
