"""Publisher options."""

from __future__ import annotations

from dataclasses import dataclass, field

from faststream._internal.configs import PublisherSpecificationConfig, PublisherUsecaseConfig

from faststream_sqs.broker.config import SQSBrokerConfig


@dataclass(kw_only=True)
class SQSPublisherSpecificationConfig(PublisherSpecificationConfig):
    queue: str
    fifo: bool = False


@dataclass(kw_only=True)
class SQSPublisherConfig(PublisherUsecaseConfig):
    _outer_config: SQSBrokerConfig = field(default_factory=SQSBrokerConfig)

    queue: str
    message_group_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
