"""Subscriber options: what the registrator was given, checked once."""

from __future__ import annotations

from dataclasses import dataclass, field

from faststream._internal.configs import SubscriberSpecificationConfig, SubscriberUsecaseConfig
from faststream._internal.constants import EMPTY
from faststream.middlewares import AckPolicy

from faststream_sqs.broker.config import SQSBrokerConfig
from faststream_sqs.settlement import MAX_VISIBILITY_TIMEOUT_S, RejectPolicy
from faststream_sqs.subscriber.failures import DecodeErrorHook

# SQS's own bounds on ReceiveMessage parameters.
MAX_BATCH_SIZE = 10
MAX_WAIT_TIME_S = 20
REJECT_POLICIES = ("redrive", "dlq", "delete")


@dataclass(kw_only=True)
class SQSSubscriberSpecificationConfig(SubscriberSpecificationConfig):
    """What the AsyncAPI document says of a subscriber."""

    queue: str
    fifo: bool = False


@dataclass(kw_only=True)
class SQSSubscriberConfig(SubscriberUsecaseConfig):
    """How one subscriber receives, runs and settles its queue's messages."""

    _outer_config: SQSBrokerConfig = field(default_factory=SQSBrokerConfig)

    queue: str
    max_workers: int = 1
    batch_size: int = MAX_BATCH_SIZE
    wait_time_s: int = MAX_WAIT_TIME_S
    visibility_timeout_s: int | None = None
    reject: RejectPolicy = "redrive"
    dlq: str | None = None
    on_decode_error: DecodeErrorHook | None = None
    max_attempts: int = 3
    retry_backoff_s: float = 0.5

    def __post_init__(self) -> None:
        problems = []
        if self.max_workers < 1:
            problems.append("max_workers must be at least 1")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            problems.append(f"batch_size must be within 1..{MAX_BATCH_SIZE}")
        if not 0 <= self.wait_time_s <= MAX_WAIT_TIME_S:
            problems.append(f"wait_time_s must be within 0..{MAX_WAIT_TIME_S}")
        if self.visibility_timeout_s is not None and not (
            1 <= self.visibility_timeout_s <= MAX_VISIBILITY_TIMEOUT_S
        ):
            problems.append(f"visibility_timeout_s must be within 1..{MAX_VISIBILITY_TIMEOUT_S}")
        if self.reject not in REJECT_POLICIES:
            problems.append(f"reject must be one of {REJECT_POLICIES}")
        if self.dlq is not None and self.reject != "dlq":
            problems.append('dlq= is only used with reject="dlq"')
        if self.max_attempts < 1:
            problems.append("max_attempts must be at least 1")
        if self.retry_backoff_s < 0:
            problems.append("retry_backoff_s must not be negative")
        if problems:
            raise ValueError(f"subscriber {self.queue!r}: " + "; ".join(problems))

    @property
    def ack_policy(self) -> AckPolicy:
        """NACK_ON_ERROR unless told otherwise: a failure releases the message for redelivery."""
        if self._ack_policy is not EMPTY:
            return self._ack_policy
        if self._outer_config.ack_policy is not EMPTY:
            return self._outer_config.ack_policy
        return AckPolicy.NACK_ON_ERROR
