"""Dead-letter queues: list and show without consuming, replay in FIFO order, purge.

Reading never consumes. Messages are received with a visibility timeout, held while more
are read (a FIFO queue hides a group while one of its messages is in flight, and holding
what was read is how the next receive reaches other groups), then released at once with
``ChangeMessageVisibility 0``. Each receive raises a message's ApproximateReceiveCount, so
the counts shown include the listing's own receive; nothing else changes.

Replay is crash-safe: a message is sent to its source queue first and deleted from the
DLQ after, so a crash leaves at most a duplicate (the handlers tolerate one), never a loss.
Within a group, messages are sent strictly in DLQ order and a group's batch is sent before
any of it is deleted; a group whose send fails is not continued (a later message must not
overtake an earlier one). Each copy gets a fresh deduplication id
(``<request_id>:replay:<ULID>``) so SQS's 5-minute deduplication window, which still
remembers the original send, cannot swallow it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError
from ulid import ULID

from producers.ops.errors import NativeMoveUnsupportedError, OpsError
from producers.ops.queues import queue_depth, queue_url
from schemas.ids import is_request_id
from schemas.items import reply_from_item
from schemas.names import ResourceNames
from schemas.replies import ReplyRecord

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_sqs import SQSClient

#: stdlib logging: the CLI root renders it (structlog's stdlib bridge); unconfigured, warnings
#: still reach stderr and never the stdout that ``--json`` output owns.
log = logging.getLogger(__name__)

#: String message attribute the broker's ``reject="dlq"`` adds with the reason. Messages
#: dead-lettered by SQS redrive carry none: their reason is the reply row's error.
REJECT_REASON_ATTRIBUTE: Final = "x-reject-reason"
#: SQS's ceiling for ReceiveMessage and every *Batch call.
BATCH: Final = 10
#: How long ``list``/``show`` keep collecting before they release what they hold.
PEEK_DEADLINE_S: Final = 15.0
#: Held messages must not reappear while a peek is still collecting (deadline + margin).
PEEK_VISIBILITY_S: Final = 30
#: How long a replay waits for messages another reader holds (a peek holds for at most
#: PEEK_VISIBILITY_S, a consumer's DLQ sweep for 30 s, and both release far sooner).
OTHERS_HOLD_WAIT_S: Final = 35.0
#: Receipt handles a release or delete may meet that mean "already gone / not held".
_GONE_CODES: Final = frozenset(
    {"ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"}
)


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
        except ValueError:
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


# SQS calls ------------------------------------------------------------------------------


async def _receive(sqs: SQSClient, url: str, *, visibility_s: int, wait_s: int) -> list[Any]:
    resp = await sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=BATCH,
        VisibilityTimeout=visibility_s,
        WaitTimeSeconds=wait_s,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(resp.get("Messages", []))


def _chunks(items: list[Any], size: int = BATCH) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def set_visibility(sqs: SQSClient, url: str, handles: list[str], seconds: int) -> int:
    """ChangeMessageVisibilityBatch over any number of handles; returns how many failed."""
    failed = 0
    for chunk in _chunks(handles):
        resp = await sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds}
                for i, h in enumerate(chunk)
            ],
        )
        for entry in resp.get("Failed", []):
            if entry.get("Code") not in _GONE_CODES:
                failed += 1
                log.warning("dlq_visibility_change_failed code=%s", entry.get("Code"))
    return failed


async def release(sqs: SQSClient, url: str, handles: list[str]) -> int:
    """Make held messages visible again at once (what a non-consuming read ends with)."""
    return await set_visibility(sqs, url, handles, 0)


async def delete(sqs: SQSClient, url: str, handles: list[str]) -> int:
    """DeleteMessageBatch; returns how many could not be deleted (they will reappear)."""
    failed = 0
    for chunk in _chunks(handles):
        resp = await sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
        )
        for entry in resp.get("Failed", []):
            failed += 1
            log.warning("dlq_delete_failed code=%s", entry.get("Code"))
    return failed


# list / show ----------------------------------------------------------------------------


@dataclass
class Peek:
    """What a non-consuming read found in one DLQ."""

    pair: DlqPair
    letters: list[DeadLetter]
    read: int  # messages received, selected or not
    depth: int  # visible + in flight when the read started (approximate)

    @property
    def not_reached(self) -> int:
        """Messages the read could not see: a FIFO queue shows a group's later messages
        only once its earlier ones are deleted, and others may hold some in flight."""
        return max(self.depth - self.read, 0)


async def peek(
    sqs: SQSClient,
    *,
    pair: DlqPair,
    selector: Selector = Selector(),
    limit: int = 100,
    deadline_s: float = PEEK_DEADLINE_S,
    visibility_s: int = PEEK_VISIBILITY_S,
    wait_s: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> Peek:
    """Read up to ``limit`` selected messages without consuming any.

    Receives repeatedly, holding everything read, until a receive brings nothing new, the
    limit is met or the deadline passes; then releases everything it holds.
    """
    url = await queue_url(sqs, pair.dlq)
    depth = await queue_depth(sqs, pair.dlq, url=url)
    held: dict[str, str] = {}
    letters: list[DeadLetter] = []
    deadline = clock() + deadline_s
    try:
        while len(letters) < limit and clock() < deadline:
            messages = await _receive(sqs, url, visibility_s=visibility_s, wait_s=wait_s)
            new = [m for m in messages if m["MessageId"] not in held]
            for m in messages:  # the newest receipt handle is the one SQS honours
                held[m["MessageId"]] = m["ReceiptHandle"]
            if not new:
                break
            for m in new:
                letter = DeadLetter.from_sqs(pair, m)
                if len(letters) < limit and selector.matches(letter):
                    letters.append(letter)
    finally:
        await _release_quietly(sqs, url, list(held.values()))
    return Peek(pair=pair, letters=letters, read=len(held), depth=depth.visible + depth.in_flight)


async def _release_quietly(sqs: SQSClient, url: str, handles: list[str]) -> None:
    """Release in a ``finally``: a failure here must not mask the error being raised."""
    if not handles:
        return
    try:
        await release(sqs, url, handles)
    except Exception as exc:  # the messages reappear after their visibility timeout anyway
        log.warning("dlq_release_failed count=%d error=%r", len(handles), exc)


async def get_replies(
    ddb: DynamoDBClient, *, table: str, request_ids: Iterable[str]
) -> dict[str, ReplyRecord]:
    """Reply rows by request id (BatchGetItem, strongly consistent); absent ids omitted."""
    wanted = sorted({r for r in request_ids if is_request_id(r)})
    found: dict[str, ReplyRecord] = {}
    for chunk in _chunks(wanted, 100):
        request: dict[str, Any] = {
            table: {"Keys": [{"request_id": {"S": r}} for r in chunk], "ConsistentRead": True}
        }
        for attempt in range(5):
            resp = await ddb.batch_get_item(RequestItems=request)
            for item in resp.get("Responses", {}).get(table, []):
                record = reply_from_item(item)
                found[record.request_id] = record
            request = dict(resp.get("UnprocessedKeys") or {})
            if not request:
                break
            await asyncio.sleep(0.05 * 2**attempt)  # DynamoDB asks us to back off
    return found


async def attach_reasons(
    ddb: DynamoDBClient, *, table: str, letters: list[DeadLetter]
) -> dict[str, ReplyRecord]:
    """Fill in reasons from reply rows where no reject attribute gave one; return the rows."""
    replies = await get_replies(
        ddb, table=table, request_ids=(lt.request_id or "" for lt in letters)
    )
    for letter in letters:
        reply = replies.get(letter.request_id or "")
        if letter.reason is None and reply is not None and reply.error is not None:
            letter.reason = f"{reply.error.code.value}: {reply.error.message}"
            letter.reason_source = "reply"
    return replies


async def find(
    sqs: SQSClient,
    ddb: DynamoDBClient,
    *,
    names: ResourceNames,
    ident: str,
    kind: str | None,
    wait_s: int = 1,
) -> tuple[DeadLetter, ReplyRecord | None] | None:
    """The dead letter whose request id or message id is ``ident``, and its reply row."""
    for pair in dlq_pairs(names, kind):
        found = await peek(sqs, pair=pair, selector=Selector(ident=ident), limit=1, wait_s=wait_s)
        if found.letters:
            letter = found.letters[0]
            replies = await attach_reasons(ddb, table=names.replies_table, letters=[letter])
            return letter, replies.get(letter.request_id or "")
    return None


# replay ---------------------------------------------------------------------------------


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
            await set_visibility(
                self._sqs, self._url, list(self.handles.values()), self._visibility_s
            )
            self._renew_at = self._clock() + self._visibility_s / 2


async def replay(
    sqs: SQSClient,
    *,
    pair: DlqPair,
    selector: Selector = Selector(),
    limit: int | None = None,
    visibility_s: int = 60,
    wait_s: int = 1,
    pause_s: float = 0.0,
    on_sent: Callable[[DeadLetter], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wait_for_others_s: float = OTHERS_HOLD_WAIT_S,
) -> ReplayReport:
    """Move selected messages from ``pair.dlq`` back to ``pair.source`` (see module doc).

    Messages another reader holds (a ``dlq list`` in another terminal, a consumer's DLQ
    sweep) are invisible for a moment; once nothing else is reachable the replay keeps
    polling for up to ``wait_for_others_s`` while any are in flight, so they are replayed
    too rather than left behind. ``pause_s`` sleeps after each send: a test hook to kill a
    replay half-way.
    """
    dlq_url = await queue_url(sqs, pair.dlq)
    source_url = await queue_url(sqs, pair.source)
    report = ReplayReport(pair=pair)
    seen: set[str] = set()
    held: dict[str, str] = {}  # read but not replayed: released when the run ends
    failed_groups: set[str | None] = set()
    lease = _Lease(sqs, dlq_url, visibility_s=visibility_s, clock=clock)
    released_once = False
    others_deadline = clock() + wait_for_others_s

    def full() -> bool:
        return limit is not None and len(report.replayed) >= limit

    try:
        while not full():
            messages = await _receive(sqs, dlq_url, visibility_s=visibility_s, wait_s=wait_s)
            new = [DeadLetter.from_sqs(pair, m) for m in messages if m["MessageId"] not in seen]
            for m in messages:
                if m["MessageId"] in seen:
                    held[m["MessageId"]] = m["ReceiptHandle"]
            if not new:
                # Held messages hide their groups; release them once to reach what is behind
                # them. A second pass with nothing new means there is nothing left to reach.
                if released_once or not held:
                    others = (await queue_depth(sqs, pair.dlq, url=dlq_url)).in_flight - len(held)
                    if others > 0 and clock() < others_deadline:
                        log.info("dlq_replay_waiting held_by_others=%d", others)
                        if wait_s == 0:  # no long poll to pace the loop
                            await asyncio.sleep(0.2)
                        continue
                    break
                await release(sqs, dlq_url, list(held.values()))
                held.clear()
                released_once = True
                continue
            released_once = False
            seen.update(lt.message_id for lt in new)
            lease.hold(new)
            for group, letters in by_group(new):
                await _replay_group(
                    sqs,
                    group=group,
                    letters=letters,
                    dlq_url=dlq_url,
                    source_url=source_url,
                    selector=selector,
                    report=report,
                    held=held,
                    lease=lease,
                    failed_groups=failed_groups,
                    full=full,
                    pause_s=pause_s,
                    on_sent=on_sent,
                )
    finally:
        await _release_quietly(sqs, dlq_url, [*held.values(), *lease.handles.values()])
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


async def _replay_group(
    sqs: SQSClient,
    *,
    group: str | None,
    letters: list[DeadLetter],
    dlq_url: str,
    source_url: str,
    selector: Selector,
    report: ReplayReport,
    held: dict[str, str],
    lease: _Lease,
    failed_groups: set[str | None],
    full: Callable[[], bool],
    pause_s: float,
    on_sent: Callable[[DeadLetter], None] | None,
) -> None:
    """Send one group's share of a batch in order, then delete what was sent."""
    sent: list[DeadLetter] = []
    for letter in letters:
        if group in failed_groups or full() or not selector.matches(letter):
            held[letter.message_id] = letter.receipt_handle
            lease.drop([letter])
            report.skipped += 1
            continue
        await lease.keep_alive()
        try:
            await _send_copy(sqs, source_url, letter)
        except ClientError as exc:
            # Stop this group here: sending its later messages would reorder it.
            failed_groups.add(group)
            report.failed.append((letter, exc.response["Error"].get("Message") or str(exc)))
            held[letter.message_id] = letter.receipt_handle
            lease.drop([letter])
            log.error("dlq_replay_send_failed message_group=%s error=%s", group, exc)
            continue
        sent.append(letter)
        report.replayed.append(letter)
        if on_sent is not None:
            on_sent(letter)
        if pause_s:
            await asyncio.sleep(pause_s)
    if sent:
        await lease.keep_alive()
        report.not_deleted += await delete(sqs, dlq_url, [lt.receipt_handle for lt in sent])
        lease.drop(sent)


# purge and native move ------------------------------------------------------------------


async def purge(sqs: SQSClient, *, pair: DlqPair) -> int:
    """PurgeQueue on the DLQ; returns its approximate depth before the purge."""
    url = await queue_url(sqs, pair.dlq)
    depth = await queue_depth(sqs, pair.dlq, url=url)
    try:
        await sqs.purge_queue(QueueUrl=url)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if "PurgeQueueInProgress" in code:
            raise OpsError(
                f"a purge of {pair.dlq} is already in progress (SQS allows one per 60 s)"
            ) from None
        raise
    log.info("dlq_purged queue=%s count=%d", pair.dlq, depth.total)
    return depth.total


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
