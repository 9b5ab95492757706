"""Dead letters as read from a DLQ: the queue pair, the message, and which ones to act on."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from schemas.names import ResourceNames

#: String message attribute the broker's ``reject="dlq"`` adds with the reason. Messages
#: dead-lettered by SQS redrive carry none: their reason is the reply row's error.
REJECT_REASON_ATTRIBUTE: Final = "x-reject-reason"


@dataclass(frozen=True)
class DlqPair:
    """A dead-letter queue and the source queue its messages came from."""

    kind: str  # "requests" | "jobs"
    dlq: str
    source: str


QUEUE_KINDS: Final = ("requests", "jobs")


def dlq_pairs(names: ResourceNames, kind: str | None = None) -> list[DlqPair]:
    """Both pairs, or the one named by ``kind`` (``requests`` or ``jobs``)."""
    pairs = [
        DlqPair("requests", names.dlq_of(names.requests_queue), names.requests_queue),
        DlqPair("jobs", names.dlq_of(names.jobs_queue), names.jobs_queue),
    ]
    return [p for p in pairs if kind is None or p.kind == kind]


@dataclass
class DeadLetter:
    """One message read from a DLQ (still there: reading does not consume)."""

    pair: DlqPair
    message_id: str
    receipt_handle: str
    body: str
    message_attributes: dict[str, Any]
    attributes: dict[str, str]
    reason: str | None = None
    reason_source: str | None = None  # "attribute" | "reply"

    @classmethod
    def from_sqs(cls, pair: DlqPair, raw: Any) -> DeadLetter:
        letter = cls(
            pair=pair,
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw.get("Body", ""),
            message_attributes=dict(raw.get("MessageAttributes") or {}),
            attributes=dict(raw.get("Attributes") or {}),
        )
        reason = letter.attribute(REJECT_REASON_ATTRIBUTE)
        if reason:
            letter.reason, letter.reason_source = reason, "attribute"
        return letter

    def attribute(self, name: str) -> str | None:
        value = self.message_attributes.get(name)
        return value.get("StringValue") if isinstance(value, dict) else None

    def _body_field(self, name: str) -> str | None:
        parsed = self.parsed_body()
        value = parsed.get(name) if isinstance(parsed, dict) else None
        return value if isinstance(value, str) else None

    def parsed_body(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
            return self.body

    @property
    def request_id(self) -> str | None:
        return self.attribute("request_id") or self._body_field("request_id")

    @property
    def type(self) -> str | None:
        return self.attribute("type") or self._body_field("type")

    @property
    def group(self) -> str | None:
        return self.attributes.get("MessageGroupId")

    @property
    def receive_count(self) -> int:
        return int(self.attributes.get("ApproximateReceiveCount", 0))

    @property
    def sent_at(self) -> float | None:
        sent = self.attributes.get("SentTimestamp")
        return int(sent) / 1000 if sent else None

    def age_s(self, now: float) -> float | None:
        return max(now - self.sent_at, 0.0) if self.sent_at is not None else None

    def summary(self, now: float) -> dict[str, Any]:
        """The row ``dlq list --json`` prints."""
        age = self.age_s(now)
        return {
            "queue": self.pair.kind,
            "dlq": self.pair.dlq,
            "source_queue": self.pair.source,
            "message_id": self.message_id,
            "request_id": self.request_id,
            "type": self.type,
            "group": self.group,
            "receive_count": self.receive_count,
            "sent_at": self.sent_at,
            "age_s": round(age, 3) if age is not None else None,
            "reason": self.reason,
            "reason_source": self.reason_source,
        }

    def detail(self, now: float) -> dict[str, Any]:
        """What ``dlq show`` prints: the summary plus body and every attribute."""
        return {
            **self.summary(now),
            "body": self.parsed_body(),
            "message_attributes": {
                k: v.get("StringValue", v.get("BinaryValue")) if isinstance(v, dict) else v
                for k, v in self.message_attributes.items()
            },
            "attributes": self.attributes,
        }


@dataclass(frozen=True)
class Selector:
    """Which dead letters an operation is about; every set field must match."""

    type_: str | None = None
    group: str | None = None
    ident: str | None = None  # request id or SQS message id

    def matches(self, letter: DeadLetter) -> bool:
        if self.type_ is not None and letter.type != self.type_:
            return False
        if self.group is not None and letter.group != self.group:
            return False
        return self.ident is None or self.ident in (letter.request_id, letter.message_id)


def by_group(letters: Iterable[DeadLetter]) -> list[tuple[str | None, list[DeadLetter]]]:
    """Groups in order of first appearance, each group's messages in their received order."""
    groups: dict[str | None, list[DeadLetter]] = {}
    for letter in letters:
        groups.setdefault(letter.group, []).append(letter)
    return list(groups.items())
