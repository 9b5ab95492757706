"""The root of faststream_sqs's errors; each concrete error lives with the module raising it.

SQSError
├── SQSNotConnectedError        broker/config.py   the client was used before connect()
├── SQSQueueConfigError         queue.py           a queue lacks what a subscriber needs
├── SQSDecodeError              parser.py          a body is not what its content type says
└── SQSPublishError             publisher/producer.py
    ├── SQSMessageGroupError    a FIFO message without a group id
    ├── SQSDeduplicationError   a FIFO message without a dedup id (no content-based dedup)
    ├── SQSMessageSizeError     a message larger than the queue's MaximumMessageSize
    └── SQSPublishBatchError    publish_batch(raise_on_failure=True) with failed entries
"""

from __future__ import annotations


class SQSError(Exception):
    """Base class of every error faststream_sqs raises on purpose."""
