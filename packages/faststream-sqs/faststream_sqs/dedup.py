"""Deliveries of a message this subscriber already holds, or has just deleted.

SQS may hand a message over again while a consumer still works on it (its visibility
lapsed before the heartbeat renewed it), or after the consumer deleted it (the delete was
late or lost); a server answering concurrent ReceiveMessage calls can also return one
message to two of them (moto's threaded server does). A subscriber keeps the ids of the
messages it holds and of those it deleted lately, so such a delivery is not handled a
second time: a held message takes the newer receipt handle (SQS deletes only with the
latest one), a deleted one is deleted again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faststream_sqs.settlement import ReceivedMessage

# How many deleted message ids a subscriber remembers. A redelivery after a delete comes
# within a visibility timeout, and a subscriber handles far fewer messages than this in one.
REMEMBERED_DELETES = 10_000


class Deliveries:
    """Tells a fresh delivery from one of a message held or deleted here."""

    def __init__(self, *, remembered: int = REMEMBERED_DELETES) -> None:
        self._held: dict[str, ReceivedMessage] = {}
        self._deleted: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    def __len__(self) -> int:
        return len(self._held)

    def held(self, message_id: str) -> ReceivedMessage | None:
        """The held message with this id, if any."""
        return self._held.get(message_id)

    def deleted(self, message_id: str) -> bool:
        """Whether a message with this id was deleted here lately."""
        return message_id in self._deleted

    def hold(self, message: ReceivedMessage) -> None:
        """Remember `message` as held until `let_go`."""
        self._held[message.message_id] = message

    def let_go(self, message: ReceivedMessage, *, deleted: bool) -> None:
        """`message` left the subscriber; remember it when it was deleted from the queue."""
        if self._held.get(message.message_id) is message:
            del self._held[message.message_id]
        if deleted:
            self._deleted[message.message_id] = None
            if len(self._deleted) > self._remembered:
                self._deleted.popitem(last=False)
