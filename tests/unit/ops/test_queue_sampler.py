"""QueueSampler with a fake SQS: the age gauge where the endpoint reports it, failures."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from prometheus_client import CollectorRegistry

from consumers.queue_metrics import QueueSampler


class FakeSqs:
    """Answers GetQueueUrl/GetQueueAttributes from a dict; unknown queues do not exist."""

    def __init__(self, attributes: dict[str, dict[str, str]]) -> None:
        self.attributes = attributes

    async def get_queue_url(self, *, QueueName: str) -> dict[str, Any]:
        if QueueName not in self.attributes:
            raise ClientError(
                {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue"}}, "GetQueueUrl"
            )
        return {"QueueUrl": f"url/{QueueName}"}

    async def get_queue_attributes(self, *, QueueUrl: str, AttributeNames: list[str]) -> Any:
        return {"Attributes": self.attributes[QueueUrl.removeprefix("url/")]}


async def test_oldest_age_is_exported_only_where_the_endpoint_reports_it() -> None:
    sqs = FakeSqs(
        {
            "q": {
                "ApproximateNumberOfMessages": "4",
                "ApproximateNumberOfMessagesNotVisible": "2",
                "ApproximateNumberOfMessagesDelayed": "1",
                "ApproximateAgeOfOldestMessage": "42",
            },
            "dlq": {"ApproximateNumberOfMessages": "3"},
        }
    )
    registry = CollectorRegistry()
    sampler = QueueSampler(sqs, queues=["q", "gone"], dlqs=["dlq"], registry=registry)  # type: ignore[arg-type]

    await sampler.sample_once()

    get = registry.get_sample_value
    assert get("broker_queue_oldest_age_seconds", {"queue": "q"}) == 42
    assert get("broker_queue_oldest_age_seconds", {"queue": "dlq"}) is None
    assert get("broker_queue_messages", {"queue": "q", "state": "delayed"}) == 1
    assert get("broker_dlq_messages", {"queue": "dlq"}) == 3
    assert get("broker_queue_sample_failures_total", {"queue": "gone"}) == 1
    assert get("broker_queue_messages", {"queue": "gone", "state": "visible"}) is None
