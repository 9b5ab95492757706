"""Make moto's SQS calls atomic, as SQS's are, for the duration of the faststream_sqs tests.

moto's threaded server runs concurrent SQS calls in parallel threads with no lock. Two
overlapping ReceiveMessage calls can then split one FIFO group between them (later
messages in one batch, earlier ones in the other) or take one message twice; a receive
overlapping a DeleteMessageBatch can hand out a message being deleted and leave its FIFO
group locked until the visibility timeout. SQS does none of this, and no consumer can undo
it, so tests that check FIFO order and exactly-once handling would test moto's races.

`atomic_sqs()` runs every mutating SQS call under one lock; a long poll scans under the
lock and, while it finds nothing, waits for the next change to the queues (or a short
while, for visibility timeouts that lapse on their own) with the lock released, so a 20 s
poll blocks nobody and costs no scans while nothing happens (moto's own long poll re-scans
the whole queue in a tight loop). It patches moto's backend class and undoes the patch
on exit; the broker under test is untouched.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.sqs.models import SQSBackend

# A long poll that found nothing scans again on every change to the queues, and at least
# this often: a message also becomes visible when its visibility timeout lapses, which no
# call announces.
RESCAN_S = 0.1

_MUTATIONS = (
    "send_message",
    "send_message_batch",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
)

_changed = threading.Condition(threading.RLock())


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _changed:
            try:
                return method(*args, **kwargs)
            finally:
                _changed.notify_all()

    return call


@contextmanager
def atomic_sqs() -> Iterator[None]:
    originals = {name: getattr(SQSBackend, name) for name in (*_MUTATIONS, "receive_message")}
    receive = originals["receive_message"]

    def receive_message(
        self: SQSBackend,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        with _changed:
            while True:
                # A wait of 0 makes moto scan once and return.
                found = receive(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
                left = deadline - time.monotonic()
                if found or left <= 0:
                    return found
                _changed.wait(min(left, RESCAN_S))

    for name in _MUTATIONS:
        setattr(SQSBackend, name, _locked(originals[name]))
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(SQSBackend, name, method)
