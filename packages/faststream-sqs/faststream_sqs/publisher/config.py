"""Publisher options."""

from __future__ import annotations

from dataclasses import dataclass, field

from faststream._internal.configs import PublisherSpecificationConfig, PublisherUsecaseConfig

from faststream_sqs.broker.config import SQSBrokerConfig


@dataclass(kw_only=True)
class SQSPublisherSpecificationConfig(PublisherSpecificationConfig):
    """What the AsyncAPI document says of a publisher."""

    queue: str
    fifo: bool = False


@dataclass(kw_only=True)
class SQSPublisherConfig(PublisherUsecaseConfig):
    """The queue a publisher sends to, with its default group id and attributes."""

    _outer_config: SQSBrokerConfig = field(default_factory=SQSBrokerConfig)

    queue: str
    message_group_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
