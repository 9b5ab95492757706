"""Dead letters that no handler finished get their ``DEAD_LETTERED`` reply here.

A handler writes ``DEAD_LETTERED`` itself when it fails on the last receive. But SQS counts
a receive when it hands a message out, not when a handler runs: a consumer killed (SIGKILL,
OOM, a lost host) while it holds a message on that message's last receive lets SQS move it
to the DLQ with no reply at all, and its track would poll until it gives up. Under a crash
loop this is not rare: the chaos benchmark lost 92 of 500 requests that way.

So every consumer watches the DLQs of its queues. When a DLQ holds more messages than at
the last look (or a while has passed), it reads them without consuming — receive with a
short visibility, then release at once with visibility 0, as ``dlq list`` does — and for
each request with no terminal reply yet writes a failed ``DEAD_LETTERED`` reply. The write
is conditional (no row, or a pending one): a request that did finish keeps its real
outcome, and a replayed message may still overwrite ``DEAD_LETTERED`` with its real one.
The message stays in the DLQ for an operator to inspect and replay.

Limits: a FIFO DLQ shows a group's later messages only once its earlier ones are gone, so
of one group only the first ten are reached until an operator replays or purges them;
several consumers sweeping at once each reach what the others do not hold, and a
request answered twice is answered the same (the write is conditional).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from consumers.metrics import BrokerMetrics
from consumers.periodic import repeat
from consumers.services.replies import ReplyFactory
from consumers.stores.replies import ReplyStore
from faststream_sqs.helpers import QueuePeek, QueueUrls
from schemas.ids import is_header_value, is_request_id, tenant_or_default
from schemas.messages import MessageType

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = structlog.get_logger(__name__)

#: The values a dead letter's ``type`` may give the ``action`` label; others are "unknown".
MESSAGE_TYPES = frozenset(t.value for t in MessageType)


@dataclass
class SweepReport:
    """What one sweep of one DLQ did."""

    queue: str
    read: int = 0
    answered: int = 0  # DEAD_LETTERED replies written
    already_terminal: int = 0  # the request had its outcome already
    unanswerable: int = 0  # no request id to answer (e.g. a body that is not JSON)
    failed: int = 0  # answering raised (left for the next full sweep)


@dataclass
class _QueueState:
    last_visible: int = 0
    next_full_at: float = 0.0


@dataclass
class DeadLetterSweeper:
    """Answers dead-lettered requests that have no terminal reply; ``run`` loops."""

    sqs: SQSClient
    replies: ReplyStore
    factory: ReplyFactory
    metrics: BrokerMetrics
    dlqs: Sequence[str]
    #: The source queues' maxReceiveCount: the attempts a dead letter had.
    attempts: int
    interval_s: float = 10.0
    #: Sweep even if the depth did not grow (messages may arrive while others are replayed).
    full_every_s: float = 300.0
    #: Visibility of the messages a sweep holds; they are released as soon as it ends.
    hold_s: int = 30
    #: How long one sweep of one DLQ may keep reading.
    read_deadline_s: float = 10.0
    #: Message ids already handled, so a full sweep does not write them again.
    remember: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _queues: dict[str, _QueueState] = field(default_factory=dict, init=False)
    _urls: QueueUrls = field(init=False)
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict, init=False)

    def __post_init__(self) -> None:
        self._urls = QueueUrls(self.sqs)

    async def sweep_once(self) -> list[SweepReport]:
        """Look at every DLQ once; sweep those that grew or are due a full sweep."""
        reports = []
        for queue in self.dlqs:
            try:
                report = await self._maybe_sweep(queue)
            except (ClientError, BotoCoreError, OSError) as exc:
                self._queues.pop(queue, None)
                self._urls.forget(queue)  # a recreated queue has a new URL
                log.warning("dlq_sweep_failed", queue=queue, error=repr(exc))
                continue
            if report is not None:
                reports.append(report)
        return reports

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``interval_s`` (jittered so consumers do not sweep in step)."""
        await repeat(
            self.sweep_once,
            stop,
            interval_s=self.interval_s,
            jitter=0.25,
            failed_event="dlq_sweeper_failed",
        )

    async def _maybe_sweep(self, queue: str) -> SweepReport | None:
        state = self._queues.setdefault(queue, _QueueState())
        url = await self._urls.url(queue)
        attrs = await self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        visible = int(attrs.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))
        grew = visible > state.last_visible
        due = self.clock() >= state.next_full_at
        state.last_visible = visible
        if visible == 0 or not (grew or due):
            return None
        report = await self._sweep(queue, url)
        # A read that reached fewer than were there (held by others, or behind their group
        # in a FIFO queue) is tried again at the next full sweep.
        state.next_full_at = self.clock() + self.full_every_s
        return report

    async def _sweep(self, queue: str, url: str) -> SweepReport:
        report = SweepReport(queue=queue)
        async with QueuePeek(
            self.sqs,
            url,
            visibility_s=self.hold_s,
            deadline_s=self.read_deadline_s,
            clock=self.clock,
        ) as batches:
            async for new in batches:
                report.read += len(new)
                for message in new:
                    await self._answer_isolated(queue, message, report)
        if report.answered or report.failed:
            log.warning(
                "dlq_swept",
                queue=queue,
                read=report.read,
                answered=report.answered,
                already_terminal=report.already_terminal,
                unanswerable=report.unanswerable,
                failed=report.failed,
            )
        return report

    async def _answer_isolated(
        self, queue: str, message: dict[str, Any], report: SweepReport
    ) -> None:
        """One dead letter's answer; whatever it raises stays with it, so one poisonous
        message never aborts the sweep for the ones behind it. It is not remembered: the
        next full sweep tries it again."""
        try:
            await self._answer(queue, message, report)
        except Exception as exc:
            report.failed += 1
            log.warning(
                "dlq_answer_failed",
                queue=queue,
                message_id=message.get("MessageId"),
                error=type(exc).__name__,
            )

    async def _answer(self, queue: str, message: dict[str, Any], report: SweepReport) -> None:
        message_id = message["MessageId"]
        if message_id in self._seen:
            self._seen.move_to_end(message_id)
            return
        fields = _fields(message)
        request_id = fields.get("request_id")
        if not (isinstance(request_id, str) and is_request_id(request_id)):
            report.unanswerable += 1
            self._remember(message_id)
            return
        track_id = fields.get("track_id")
        if not (isinstance(track_id, str) and is_header_value(track_id)):
            track_id = None
        # A metric label and the reply's action: one of the message types, never the text
        # a dead letter happens to carry.
        action = fields.get("type")
        action = action if isinstance(action, str) and action in MESSAGE_TYPES else "unknown"
        record = self.factory.dead_lettered(
            request_id=request_id,
            action=action,
            track_id=track_id,
            tenant=tenant_or_default(fields.get("tenant")),
            attempts=self.attempts,
            reason="no consumer finished it",
        )
        if await self.replies.put_if_unanswered(record):
            report.answered += 1
            self.metrics.replies_total.labels(
                action=action, status="failed", code="DEAD_LETTERED"
            ).inc()
            self.metrics.dead_letters_answered.labels(queue=queue).inc()
            log.error(
                "request_dead_lettered",
                outcome="dead_lettered",
                request_id=request_id,
                track_id=track_id,
                action=action,
                message_group=message.get("Attributes", {}).get("MessageGroupId"),
                source="dlq_sweep",
            )
        else:
            report.already_terminal += 1
        self._remember(message_id)

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        while len(self._seen) > self.remember:
            self._seen.popitem(last=False)


def body_fields(body: bytes | str) -> dict[str, Any]:
    """The top-level fields of a JSON object body; ``{}`` for anything else (not JSON, not
    an object, or nested too deep to parse: a RecursionError is bad input, not a crash)."""
    try:
        parsed = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        return {}
    return dict(parsed) if isinstance(parsed, dict) else {}


def _fields(message: dict[str, Any]) -> dict[str, Any]:
    """request_id, type and track_id from the body, else from the message attributes."""
    fields = body_fields(message.get("Body", ""))
    for name, value in (message.get("MessageAttributes") or {}).items():
        wanted = name in ("request_id", "type", "track_id") and name not in fields
        if wanted and isinstance(value, dict) and isinstance(value.get("StringValue"), str):
            fields[name] = value["StringValue"]
    return fields
