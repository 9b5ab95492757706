"""Purging a DLQ: every message read, exported (optionally), answered, then deleted.

SQS's PurgeQueue would drop messages nobody has read, so a request whose message was
purged would stay ``pending`` for its caller forever. Instead the purge reads the DLQ the
way a replay does and, batch by batch: appends each message to the export file (when
asked; flushed to disk first), writes a failed ``DEAD_LETTERED`` reply (reason
``purged``) for every request with no terminal reply yet (conditional: a finished request
keeps its outcome), and only then deletes the batch. A crash leaves at most messages that
were exported or answered twice, never one purged unexported or unanswered.

Deleting as it reads also reaches what a FIFO DLQ hides behind a group's first messages.
Messages another reader holds (a ``dlq list``, a consumer's DLQ sweep) are waited for up
to ``OTHERS_HOLD_WAIT_S``; whatever is still held then is left and reported.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from consumers.stores.replies import ReplyStore
from faststream_sqs.helpers import delete, receive, release_quietly
from producers.ops.dlq.model import DeadLetter, DlqPair
from producers.ops.dlq.replay import OTHERS_HOLD_WAIT_S
from producers.ops.queues import queue_depth, queue_url
from schemas.errors import ErrorCode
from schemas.ids import DEFAULT_TENANT, is_header_value, is_request_id, is_tenant_name
from schemas.messages import MessageType
from schemas.replies import ReplyError, ReplyRecord, ReplyStatus

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = logging.getLogger(__name__)

#: The reason a purged request's DEAD_LETTERED reply names.
PURGED_REASON: Final = "purged"
PURGED_MESSAGE: Final = (
    "the request was dead-lettered and then purged by an operator (reason: purged); "
    "it will not run: send it again"
)
_MESSAGE_TYPES: Final = frozenset(t.value for t in MessageType)
#: A message read this often was answered but would not delete: it is left in the DLQ.
MAX_READS: Final = 3


@dataclass
class PurgeReport:
    pair: DlqPair
    purged: int = 0  # deleted from the DLQ
    exported: int = 0
    answered: int = 0  # DEAD_LETTERED (purged) replies written
    already_terminal: int = 0  # the request had its outcome already
    failed: int = 0  # could not be answered: left in the DLQ
    not_deleted: int = 0  # answered but the delete failed: they reappear
    left_visible: int = 0
    left_in_flight: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.pair.kind,
            "dlq": self.pair.dlq,
            "purged": self.purged,
            "exported": self.exported,
            "answered": self.answered,
            "already_terminal": self.already_terminal,
            "failed": self.failed,
            "not_deleted": self.not_deleted,
            "left_visible": self.left_visible,
            "left_in_flight": self.left_in_flight,
        }


def export_line(letter: DeadLetter, now: float) -> str:
    """One JSON line of ``--export``: the summary plus the body and attributes as SQS gave
    them (the raw body string, so the message can be sent again byte for byte)."""
    record = {
        **letter.summary(now),
        "body": letter.body,
        "message_attributes": letter.message_attributes,
        "attributes": letter.attributes,
    }
    return json.dumps(record, sort_keys=True) + "\n"


def purged_reply(letter: DeadLetter, *, ttl_s: int, now: float) -> ReplyRecord | None:
    """The terminal reply of a purged request; None when the message names no request."""
    request_id = letter.request_id
    if not (request_id and is_request_id(request_id)):
        return None
    body = letter.parsed_body()
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    track_id = fields.get("track_id")
    tenant = fields.get("tenant")
    action = letter.type
    return ReplyRecord(
        request_id=request_id,
        action=action if action in _MESSAGE_TYPES else "unknown",
        status=ReplyStatus.FAILED,
        error=ReplyError(code=ErrorCode.DEAD_LETTERED, message=PURGED_MESSAGE),
        completed_at=now,
        track_id=track_id if isinstance(track_id, str) and is_header_value(track_id) else None,
        tenant=tenant if isinstance(tenant, str) and is_tenant_name(tenant) else DEFAULT_TENANT,
        attempts=letter.receive_count or 1,
        created_at=now,
        ttl=int(now + ttl_s),
    )


class Purge:
    """One purge of one DLQ; ``run()`` once."""

    def __init__(
        self,
        sqs: SQSClient,
        replies: ReplyStore,
        *,
        pair: DlqPair,
        reply_ttl_s: int,
        export: IO[str] | None = None,
        visibility_s: int = 60,
        wait_s: int = 1,
        on_purged: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        wait_for_others_s: float = OTHERS_HOLD_WAIT_S,
    ) -> None:
        self._sqs, self._replies, self.pair = sqs, replies, pair
        self._ttl_s, self._export = reply_ttl_s, export
        self._visibility_s, self._wait_s = visibility_s, wait_s
        self._on_purged = on_purged
        self._clock, self._wall = clock, wall
        self._wait_for_others_s = wait_for_others_s
        self.report = PurgeReport(pair=pair)
        self._kept: dict[str, str] = {}  # could not be answered: released at the end
        self._seen: dict[str, int] = {}

    async def run(self) -> PurgeReport:
        sqs, pair = self._sqs, self.pair
        url = await queue_url(sqs, pair.dlq)
        others_deadline = self._clock() + self._wait_for_others_s
        try:
            while True:
                messages = await receive(
                    sqs, url, visibility_s=self._visibility_s, wait_s=self._wait_s
                )
                letters = []
                for m in messages:
                    seen = self._seen[m["MessageId"]] = self._seen.get(m["MessageId"], 0) + 1
                    if seen > MAX_READS and m["MessageId"] not in self._kept:
                        self.report.failed += 1  # its delete keeps failing: leave it
                        self._kept[m["MessageId"]] = m["ReceiptHandle"]
                    if m["MessageId"] in self._kept:  # the newest handle is the one SQS honours
                        self._kept[m["MessageId"]] = m["ReceiptHandle"]
                    else:
                        letters.append(DeadLetter.from_sqs(pair, m))
                if letters:
                    await self._purge_batch(url, letters)
                    continue
                depth = await queue_depth(sqs, pair.dlq, url=url)
                others = depth.in_flight - len(self._kept)
                if others > 0 and self._clock() < others_deadline:
                    log.info("dlq_purge_waiting held_by_others=%d", others)
                    if self._wait_s == 0:  # no long poll to pace the loop
                        await asyncio.sleep(0.2)
                    continue
                break
        finally:
            await release_quietly(sqs, url, list(self._kept.values()))
        report = self.report
        depth = await queue_depth(sqs, pair.dlq, url=url)
        report.left_visible, report.left_in_flight = depth.visible, depth.in_flight
        log.info(
            "dlq_purged queue=%s purged=%d answered=%d exported=%d failed=%d",
            pair.dlq,
            report.purged,
            report.answered,
            report.exported,
            report.failed,
        )
        return report

    async def _purge_batch(self, url: str, letters: list[DeadLetter]) -> None:
        report, now = self.report, self._wall()
        if self._export is not None:
            self._export.writelines(export_line(lt, now) for lt in letters)
            self._export.flush()
            os.fsync(self._export.fileno())
            report.exported += len(letters)
        deletable: list[DeadLetter] = []
        for letter in letters:
            record = purged_reply(letter, ttl_s=self._ttl_s, now=now)
            try:
                if record is not None and await self._replies.put_if_unanswered(record):
                    report.answered += 1
                elif record is not None:
                    report.already_terminal += 1
            except (ClientError, BotoCoreError, OSError) as exc:
                # Not answered, so not deleted: it stays for the next purge or a replay.
                report.failed += 1
                self._kept[letter.message_id] = letter.receipt_handle
                log.error("dlq_purge_answer_failed message_id=%s error=%r", letter.message_id, exc)
                continue
            deletable.append(letter)
        if deletable:
            not_deleted = await delete(self._sqs, url, [lt.receipt_handle for lt in deletable])
            report.not_deleted += not_deleted
            report.purged += len(deletable) - not_deleted
            if self._on_purged is not None:
                self._on_purged(len(deletable) - not_deleted)
