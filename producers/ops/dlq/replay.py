"""Replaying dead letters to their source queue, crash-safe and in FIFO order.

A message is sent to its source queue first and deleted from the DLQ after, so a crash
leaves at most a duplicate (the handlers tolerate one), never a loss. Within a group,
messages are sent strictly in DLQ order and a group's batch is sent before any of it is
deleted; a group whose send fails is not continued (a later message must not overtake an
earlier one). Each copy gets a fresh deduplication id (``<request_id>:replay:<ULID>``) so
SQS's 5-minute deduplication window, which still remembers the original send, cannot
swallow it. ``start_native_move`` asks SQS to do the move itself (StartMessageMoveTask).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError
from ulid import ULID

from faststream_sqs.helpers import change_visibility, delete, receive, release, release_quietly
from producers.ops.dlq.model import REJECT_REASON_ATTRIBUTE, DeadLetter, DlqPair, Selector, by_group
from producers.ops.errors import NativeMoveUnsupportedError
from producers.ops.queues import queue_depth, queue_url
from schemas.ids import is_request_id

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = logging.getLogger(__name__)

#: How long a replay waits for messages another reader holds (a peek holds for at most
#: PEEK_VISIBILITY_S, a consumer's DLQ sweep for 30 s, and both release far sooner).
OTHERS_HOLD_WAIT_S: Final = 35.0


@dataclass
class ReplayReport:
    pair: DlqPair
    replayed: list[DeadLetter] = field(default_factory=list)
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    #: Messages read but not replayed: not selected, behind a failed send, or over the limit.
    skipped: int = 0
    #: Sent but not deleted from the DLQ (they reappear and are replayed again: duplicates).
    not_deleted: int = 0
    #: What the DLQ still holds after the run (approximate), in flight = held by others.
    left_visible: int = 0
    left_in_flight: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.pair.kind,
            "dlq": self.pair.dlq,
            "source_queue": self.pair.source,
            "replayed": len(self.replayed),
            "failed": len(self.failed),
            "skipped": self.skipped,
            "not_deleted": self.not_deleted,
            "left_visible": self.left_visible,
            "left_in_flight": self.left_in_flight,
            "replayed_request_ids": [lt.request_id or lt.message_id for lt in self.replayed],
            "errors": [
                {"request_id": lt.request_id, "message_id": lt.message_id, "error": e}
                for lt, e in self.failed
            ],
        }


def replay_dedup_id(letter: DeadLetter) -> str:
    """A deduplication id SQS has never seen, traceable to the original request."""
    base = letter.request_id if letter.request_id and is_request_id(letter.request_id) else None
    return f"{base or letter.message_id}:replay:{ULID()}"


def replay_attributes(letter: DeadLetter) -> dict[str, Any]:
    """The original message attributes, minus the reject reason (it described the last
    failure, not this delivery)."""
    out: dict[str, Any] = {}
    for name, value in letter.message_attributes.items():
        if name == REJECT_REASON_ATTRIBUTE or not isinstance(value, dict):
            continue
        attr: dict[str, Any] = {"DataType": value["DataType"]}
        if "StringValue" in value:
            attr["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            attr["BinaryValue"] = value["BinaryValue"]
        out[name] = attr
    return out


async def _send_copy(sqs: SQSClient, url: str, letter: DeadLetter) -> str:
    kwargs: dict[str, Any] = {
        "QueueUrl": url,
        "MessageBody": letter.body,
        "MessageAttributes": replay_attributes(letter),
    }
    if letter.group is not None:  # FIFO: same group, fresh dedup id
        kwargs["MessageGroupId"] = letter.group
        kwargs["MessageDeduplicationId"] = replay_dedup_id(letter)
    resp = await sqs.send_message(**kwargs)
    return resp["MessageId"]


class _Lease:
    """Keeps a batch being replayed invisible (a slow replay must not see it reappear)."""

    def __init__(
        self, sqs: SQSClient, url: str, *, visibility_s: int, clock: Callable[[], float]
    ) -> None:
        self._sqs, self._url, self._visibility_s, self._clock = sqs, url, visibility_s, clock
        self.handles: dict[str, str] = {}
        self._renew_at = clock() + visibility_s / 2

    def hold(self, letters: Iterable[DeadLetter]) -> None:
        self._renew_at = self._clock() + self._visibility_s / 2
        self.handles = {lt.message_id: lt.receipt_handle for lt in letters}

    def drop(self, letters: Iterable[DeadLetter]) -> None:
        for letter in letters:
            self.handles.pop(letter.message_id, None)

    async def keep_alive(self) -> None:
        if self.handles and self._clock() >= self._renew_at:
            await change_visibility(
                self._sqs, self._url, list(self.handles.values()), self._visibility_s
            )
            self._renew_at = self._clock() + self._visibility_s / 2


@dataclass(frozen=True, kw_only=True)
class ReplayHooks:
    """Seams for tests, set by a test's own entry point; operators never set them.

    ``after_send`` runs after each copy is sent, before the group's batch is deleted from
    the DLQ: a test pauses there to kill a replay half-way deterministically.
    """

    after_send: Callable[[DeadLetter], Awaitable[None]] | None = None


class Replay:
    """One replay of one DLQ into its source queue; ``run()`` once.

    Messages another reader holds (a ``dlq list`` in another terminal, a consumer's DLQ
    sweep) are invisible for a moment; once nothing else is reachable the replay keeps
    polling for up to ``wait_for_others_s`` while any are in flight, so they are replayed
    too rather than left behind.
    """

    def __init__(
        self,
        sqs: SQSClient,
        *,
        pair: DlqPair,
        selector: Selector = Selector(),
        limit: int | None = None,
        visibility_s: int = 60,
        wait_s: int = 1,
        on_sent: Callable[[DeadLetter], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wait_for_others_s: float = OTHERS_HOLD_WAIT_S,
        hooks: ReplayHooks | None = None,
    ) -> None:
        self._sqs = sqs
        self.pair = pair
        self._selector = selector
        self._limit = limit
        self._visibility_s = visibility_s
        self._wait_s = wait_s
        self._on_sent = on_sent
        self._clock = clock
        self._wait_for_others_s = wait_for_others_s
        self._hooks = hooks or ReplayHooks()
        self.report = ReplayReport(pair=pair)
        self._seen: set[str] = set()
        self._held: dict[str, str] = {}  # read but not replayed: released when the run ends
        self._failed_groups: set[str | None] = set()

    def _full(self) -> bool:
        return self._limit is not None and len(self.report.replayed) >= self._limit

    async def run(self) -> ReplayReport:
        """Move the selected messages from ``pair.dlq`` back to ``pair.source``."""
        sqs, pair = self._sqs, self.pair
        dlq_url = await queue_url(sqs, pair.dlq)
        source_url = await queue_url(sqs, pair.source)
        lease = _Lease(sqs, dlq_url, visibility_s=self._visibility_s, clock=self._clock)
        released_once = False
        others_deadline = self._clock() + self._wait_for_others_s
        try:
            while not self._full():
                messages = await receive(
                    sqs, dlq_url, visibility_s=self._visibility_s, wait_s=self._wait_s
                )
                new = [
                    DeadLetter.from_sqs(pair, m)
                    for m in messages
                    if m["MessageId"] not in self._seen
                ]
                for m in messages:
                    if m["MessageId"] in self._seen:
                        self._held[m["MessageId"]] = m["ReceiptHandle"]
                if not new:
                    # Held messages hide their groups; release them once to reach what is
                    # behind them. A second pass with nothing new means nothing is left.
                    if released_once or not self._held:
                        depth = await queue_depth(sqs, pair.dlq, url=dlq_url)
                        others = depth.in_flight - len(self._held)
                        if others > 0 and self._clock() < others_deadline:
                            log.info("dlq_replay_waiting held_by_others=%d", others)
                            if self._wait_s == 0:  # no long poll to pace the loop
                                await asyncio.sleep(0.2)
                            continue
                        break
                    await release(sqs, dlq_url, list(self._held.values()))
                    self._held.clear()
                    released_once = True
                    continue
                released_once = False
                self._seen.update(lt.message_id for lt in new)
                lease.hold(new)
                for group, letters in by_group(new):
                    await self._replay_group(
                        group, letters, lease=lease, dlq_url=dlq_url, source_url=source_url
                    )
        finally:
            await release_quietly(sqs, dlq_url, [*self._held.values(), *lease.handles.values()])
        report = self.report
        depth = await queue_depth(sqs, pair.dlq, url=dlq_url)
        report.left_visible, report.left_in_flight = depth.visible, depth.in_flight
        log.info(
            "dlq_replayed queue=%s replayed=%d failed=%d skipped=%d",
            pair.dlq,
            len(report.replayed),
            len(report.failed),
            report.skipped,
        )
        return report

    def _keep(self, letter: DeadLetter, lease: _Lease) -> None:
        """Not replayed now: held until the run ends, then released."""
        self._held[letter.message_id] = letter.receipt_handle
        lease.drop([letter])

    async def _replay_group(
        self,
        group: str | None,
        letters: list[DeadLetter],
        *,
        lease: _Lease,
        dlq_url: str,
        source_url: str,
    ) -> None:
        """Send one group's share of a batch in order, then delete what was sent."""
        report = self.report
        sent: list[DeadLetter] = []
        for letter in letters:
            if group in self._failed_groups or self._full() or not self._selector.matches(letter):
                self._keep(letter, lease)
                report.skipped += 1
                continue
            await lease.keep_alive()
            try:
                await _send_copy(self._sqs, source_url, letter)
            except ClientError as exc:
                # Stop this group here: sending its later messages would reorder it.
                self._failed_groups.add(group)
                report.failed.append((letter, exc.response["Error"].get("Message") or str(exc)))
                self._keep(letter, lease)
                log.error("dlq_replay_send_failed message_group=%s error=%s", group, exc)
                continue
            sent.append(letter)
            report.replayed.append(letter)
            if self._on_sent is not None:
                self._on_sent(letter)
            if self._hooks.after_send is not None:
                await self._hooks.after_send(letter)
        if sent:
            await lease.keep_alive()
            report.not_deleted += await delete(
                self._sqs, dlq_url, [lt.receipt_handle for lt in sent]
            )
            lease.drop(sent)


# native move ----------------------------------------------------------------------------


_UNSUPPORTED_CODES: Final = frozenset(
    {
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "InvalidAction",
        "NotImplemented",
        "UnknownOperationException",
    }
)


def _unsupported(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    # moto answers an unimplemented action with a bare HTTP 500 page, not an AWS error
    # body: botocore then reports the status number as the code. AWS's own transient 500s
    # carry a named code (InternalError) and are not taken for "unsupported".
    return code in _UNSUPPORTED_CODES or status == 501 or code.isdigit()


async def start_native_move(sqs: SQSClient, *, pair: DlqPair) -> str:
    """Start an SQS-side redrive (StartMessageMoveTask) from the DLQ to its source queue."""
    arns: list[str] = []
    for name in (pair.dlq, pair.source):
        url = await queue_url(sqs, name)
        attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arns.append(attrs["Attributes"]["QueueArn"])
    try:
        resp = await sqs.start_message_move_task(SourceArn=arns[0], DestinationArn=arns[1])
    except ClientError as exc:
        if _unsupported(exc):
            raise NativeMoveUnsupportedError(exc.response["Error"].get("Code", "?")) from None
        raise
    log.info("dlq_native_move_started queue=%s task=%s", pair.dlq, resp.get("TaskHandle"))
    return resp["TaskHandle"]
