"""Keeps held messages invisible: their visibility is extended before it lapses.

A message held locally — being handled, retried in place, or waiting in the buffer — must
not become visible to another consumer. Every held message is tracked from receipt until
it is settled; once half its visibility timeout has passed, ChangeMessageVisibilityBatch
renews it for another full timeout. SQS caps a message's invisibility at 12 hours from
its receipt, and so does the heartbeat.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faststream_sqs.helpers import chunks
from faststream_sqs.logs import EventLog

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

    from faststream_sqs.settlement import ReceivedMessage

# SQS refuses to keep a message invisible for more than 12 hours after it was received.
MAX_HELD_S = 12 * 60 * 60
# A renewal asks for a little less than what is left of the 12 hours: the local receipt
# time is taken after SQS's, so the full remainder could overshoot and be refused.
CAP_MARGIN_S = 5


@dataclass(eq=False, slots=True)
class _Lease:
    message: ReceivedMessage
    visible_at: float
    renewing: asyncio.Future[None] | None = None


class Heartbeat:
    """Renews the visibility of held messages of one queue until they are forgotten."""

    def __init__(
        self,
        client: SQSClient,
        *,
        queue_url: str,
        visibility_timeout_s: int,
        log: EventLog | None = None,
    ) -> None:
        self._client = client
        self._log = log or EventLog()
        self._queue_url = queue_url
        self._timeout_s = visibility_timeout_s
        # Checked four times per timeout, so a renewal is sent between half and a
        # quarter of the timeout before the message would reappear.
        self._tick_s = max(visibility_timeout_s / 4, 0.1)
        # Keyed by the message itself: its receipt handle may change (see dedup.py).
        self._leases: dict[ReceivedMessage, _Lease] = {}

    def __len__(self) -> int:
        return len(self._leases)

    def track(self, message: ReceivedMessage) -> None:
        """Renew `message` from now on (again, if tracked already)."""
        self._leases[message] = _Lease(message, visible_at=message.received_at + self._timeout_s)

    async def forget(self, message: ReceivedMessage) -> None:
        """Stop renewing `message`; wait for a renewal of it that is already on the wire.

        A settlement that changes visibility (nack, release) must land after any renewal,
        or the renewal would hide the message again for a full timeout.
        """
        lease = self._leases.pop(message, None)
        if lease is not None and lease.renewing is not None:
            await asyncio.shield(lease.renewing)

    def forget_now(self, message: ReceivedMessage) -> None:
        """Stop renewing `message` (a delete wins over any renewal, so nothing to wait for)."""
        self._leases.pop(message, None)

    async def run(self) -> None:
        """Renew due leases every tick; runs until cancelled."""
        while True:
            await asyncio.sleep(self._tick_s)
            await self.renew_due()

    async def renew_due(self) -> None:
        """Renew every lease past half its timeout, ten per ChangeMessageVisibilityBatch."""
        now = time.monotonic()
        due = [
            lease
            for lease in self._leases.values()
            if lease.renewing is None and lease.visible_at - now <= self._timeout_s / 2
        ]
        await asyncio.gather(*(self._renew(batch, now) for batch in chunks(due)))

    async def _renew(self, leases: list[_Lease], now: float) -> None:
        entries = []
        renewing: list[tuple[_Lease, int]] = []
        for lease in leases:
            left = MAX_HELD_S - CAP_MARGIN_S - (now - lease.message.received_at)
            timeout = int(min(self._timeout_s, left))
            if timeout <= 0:
                self._log.warning(
                    "heartbeat_cap_reached",
                    queue_url=self._queue_url,
                    message_id=lease.message.message_id,
                )
                self._leases.pop(lease.message, None)
                continue
            entries.append(
                {
                    "Id": str(len(renewing)),
                    "ReceiptHandle": lease.message.receipt_handle,
                    "VisibilityTimeout": timeout,
                }
            )
            renewing.append((lease, timeout))
        if not renewing:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for lease, _ in renewing:
            lease.renewing = done
        try:
            response = await self._client.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=entries,  # type: ignore[arg-type]
            )
        except Exception as exc:
            # Left as they are: the next tick tries again while time remains.
            self._log.warning("heartbeat_failed", queue_url=self._queue_url, error=repr(exc))
        else:
            failed = {int(entry["Id"]) for entry in response.get("Failed", [])}
            for index, (lease, timeout) in enumerate(renewing):
                if index not in failed:
                    lease.visible_at = now + timeout
            for entry in response.get("Failed", []):
                lease = renewing[int(entry["Id"])][0]
                self._log.warning(
                    "heartbeat_entry_failed",
                    queue_url=self._queue_url,
                    message_id=lease.message.message_id,
                    code=entry.get("Code"),
                )
                if entry.get("SenderFault", False):
                    # e.g. the receipt handle expired: renewing again cannot help.
                    self._leases.pop(lease.message, None)
        finally:
            for lease, _ in renewing:
                lease.renewing = None
            done.set_result(None)
