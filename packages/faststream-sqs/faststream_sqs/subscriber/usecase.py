"""SQSSubscriber: receive loop, FIFO scheduling, heartbeat and batched acks around FastStream.

Receiving (`receiver.py`), group ordering (`grouping.py`), keeping messages invisible
(`heartbeat.py`) and deleting them (`acks.py`) are modules of their own; this class wires
them to FastStream's `process_message` and owns the shutdown order:

1. stop receiving;
2. release every message not yet started (visibility 0, at once);
3. let running handlers finish, up to the broker's graceful_timeout (then cancel them and
   release their messages), and the long polls on the wire come back (releasing what
   they bring; see `Receiver.stop` for why they are not cancelled);
4. flush the pending acks.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faststream._internal.endpoint.subscriber import SubscriberUsecase
from faststream._internal.endpoint.subscriber.mixins import TasksMixin
from typing_extensions import override

from faststream_sqs.acks import AckBatcher
from faststream_sqs.dedup import Deliveries
from faststream_sqs.grouping import GroupScheduler
from faststream_sqs.heartbeat import Heartbeat
from faststream_sqs.logs import EventLog
from faststream_sqs.parser import SQSParser
from faststream_sqs.publisher.fake import SQSFakePublisher
from faststream_sqs.receiver import BufferGate, Receiver, buffer_capacity, poller_count
from faststream_sqs.settlement import ReceivedMessage, Settlement
from faststream_sqs.subscriber.failures import FailurePolicy, mark_handler_start
from faststream_sqs.subscriber.fetch import fetch
from faststream_sqs.subscriber.settler import SQSSettler
from faststream_sqs.subscriber.specification import prefixed

if TYPE_CHECKING:
    from collections.abc import Hashable

    from faststream._internal.endpoint.publisher import PublisherProto
    from faststream._internal.endpoint.subscriber import SubscriberSpecification
    from faststream._internal.endpoint.subscriber.call_item import CallsCollection
    from faststream._internal.types import BrokerMiddleware
    from faststream.message import StreamMessage

    from faststream_sqs.broker.config import SQSBrokerConfig
    from faststream_sqs.message import SQSMessage
    from faststream_sqs.queue import QueueInfo

    from .config import SQSSubscriberConfig


# Set while a handler runs in this task: stop() called from there (FastStream's consume()
# on StopConsume) must not wait for the very handler calling it.
_IN_HANDLER: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "faststream_sqs_in_handler", default=False
)

# How much longer than its WaitTimeSeconds a long poll may take to come back at shutdown.
LONG_POLL_MARGIN_S = 5.0


@dataclass(slots=True, kw_only=True)
class _Runtime:
    """What a started subscriber runs with; rebuilt on every start."""

    queue: QueueInfo
    deliveries: Deliveries
    settler: SQSSettler
    acks: AckBatcher
    heartbeat: Heartbeat
    gate: BufferGate
    scheduler: GroupScheduler[ReceivedMessage]
    receiver: Receiver
    pollers: int
    poller_tasks: list[asyncio.Task[None]]
    late_releases: list[asyncio.Task[None]]
    drained: asyncio.Future[None] | None = None


class SQSSubscriber(TasksMixin, SubscriberUsecase[ReceivedMessage]):
    """Consumes one SQS queue (standard or FIFO) with up to `max_workers` handlers at once."""

    _outer_config: SQSBrokerConfig

    def __init__(
        self,
        config: SQSSubscriberConfig,
        specification: SubscriberSpecification[Any, Any],
        calls: CallsCollection[ReceivedMessage],
    ) -> None:
        parser = SQSParser()
        config.parser = parser.parse_message
        config.decoder = parser.decode_message
        super().__init__(config, specification, calls)
        self.config = config
        self._failures = FailurePolicy(
            # Not self.event_log: a router's prefix is not known yet; lines name the queue.
            log=EventLog(self._broker_log),
            max_attempts=config.max_attempts,
            retry_backoff_s=config.retry_backoff_s,
            on_decode_error=config.on_decode_error,
            stopping=lambda: not self.running,
        )
        # The start marker tells a body that does not decode from a handler that fails.
        self._call_decorators = (*self._call_decorators, mark_handler_start)
        self._runtime: _Runtime | None = None
        self._stopping: asyncio.Task[None] | None = None

    @property
    def event_log(self) -> EventLog:
        """This subscriber's events, through the broker's logger (see logs.py)."""
        return EventLog(self._broker_log, queue=self.queue)

    def _broker_log(self, *args: Any, **kwargs: Any) -> None:
        # Looked up per line: the broker's logger is set up when the broker starts.
        self._outer_config.logger.log(*args, **kwargs)

    @property
    def queue(self) -> str:
        """The queue name (router prefix applied) or URL this subscriber consumes."""
        return prefixed(self.config.queue, self._outer_config.prefix)

    @property
    def _broker_middlewares(self) -> Sequence[BrokerMiddleware[Any]]:
        # Innermost, so retries wrap exactly the decode-and-call step and the outer
        # middlewares (acknowledgement, metrics) see one outcome per message.
        return (*self._outer_config.broker_middlewares, self._failures)

    def _make_response_publisher(self, message: StreamMessage[Any]) -> Sequence[PublisherProto]:
        return (SQSFakePublisher(self._outer_config.producer, queue=message.reply_to),)

    @staticmethod
    def build_log_context(message: StreamMessage[Any] | None, queue: str = "") -> dict[str, str]:
        return {"queue": queue, "message_id": getattr(message, "message_id", "")}

    def get_log_context(self, message: StreamMessage[ReceivedMessage] | None) -> dict[str, str]:
        return self.build_log_context(message, self.queue)

    @override
    async def get_one(self, *, timeout: float = 5) -> SQSMessage | None:
        """One message, or None after `timeout` seconds (a subscriber without handlers)."""
        assert not self.calls, (
            "You can't use `get_one` method if subscriber has registered handlers."
        )
        messages = await fetch(self, wait_s=timeout, limit=1)
        return messages[0] if messages else None

    @override
    async def __aiter__(self) -> AsyncIterator[SQSMessage]:
        """Messages as they come, a receive batch at a time (a subscriber without handlers)."""
        assert not self.calls, "You can't use iterator if subscriber has registered handlers."
        while True:
            for message in await fetch(self, wait_s=None, limit=self.config.batch_size):
                yield message

    @override
    async def start(self) -> None:
        await super().start()
        live = self.calls and not self._outer_config.in_memory
        runtime = await self._build_runtime() if live else None
        self._post_start()
        if runtime is not None:
            self._runtime = runtime
            self.add_task(runtime.acks.run)
            self.add_task(runtime.heartbeat.run)
            for _ in range(runtime.pollers):
                self.add_task(runtime.receiver.poll, restart_on_failure=False)
                runtime.poller_tasks.append(self.tasks[-1])

    async def _build_runtime(self) -> _Runtime:
        client = self._outer_config.client
        queues = self._outer_config.queues
        info = await queues.info(self.queue)
        dead_letter_queue = (
            await queues.dead_letter_queue(info, self.config.dlq)
            if self.config.reject == "dlq"
            else None
        )
        visibility_timeout_s = self.config.visibility_timeout_s or info.visibility_timeout_s
        log = self.event_log
        acks = AckBatcher(client, queue_url=info.url, log=log)
        heartbeat = Heartbeat(
            client, queue_url=info.url, visibility_timeout_s=visibility_timeout_s, log=log
        )
        settler = SQSSettler(
            client,
            queue=info,
            acks=acks,
            heartbeat=heartbeat,
            reject=self.config.reject,
            dead_letter_queue=dead_letter_queue,
            log=log,
        )

        def group_of(message: ReceivedMessage) -> Hashable:
            # A standard queue has no groups: every message runs on its own.
            if info.fifo and message.message_group_id is not None:
                return message.message_group_id
            return message.message_id

        scheduler = GroupScheduler[ReceivedMessage](
            max_workers=self.config.max_workers,
            key=group_of,
            handle=self._handle,
            release=settler.release_many,
            finished=lambda messages: self._finished(runtime, messages),
        )
        gate = BufferGate(
            buffer_capacity(
                max_workers=self.config.max_workers,
                batch_size=self.config.batch_size,
                fifo=info.fifo,
            ),
            groups_wanted=self.config.max_workers + 1 if info.fifo else None,
            groups_held=lambda: scheduler.groups,
        )
        receiver = Receiver(
            client,
            queue_url=info.url,
            batch_size=self.config.batch_size,
            wait_time_s=self.config.wait_time_s,
            visibility_timeout_s=visibility_timeout_s,
            gate=gate,
            deliver=self._deliver,
            running=lambda: self.running,
            log=log,
        )
        runtime = _Runtime(
            queue=info,
            deliveries=Deliveries(),
            settler=settler,
            acks=acks,
            heartbeat=heartbeat,
            gate=gate,
            scheduler=scheduler,
            receiver=receiver,
            pollers=poller_count(
                max_workers=self.config.max_workers,
                batch_size=self.config.batch_size,
                fifo=info.fifo,
            ),
            poller_tasks=[],
            late_releases=[],
        )
        return runtime

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        runtime = self._runtime
        assert runtime is not None, "a receiver delivers only while its subscriber runs"
        fresh = []
        for data in batch:
            message = ReceivedMessage(data=data, queue=runtime.queue, settler=runtime.settler)
            if self._is_repeat(runtime, message):
                runtime.gate.free(1)
                continue
            runtime.deliveries.hold(message)
            runtime.heartbeat.track(message)
            fresh.append(message)
        if self.running:
            runtime.scheduler.submit(fresh)
        elif fresh:
            # A receive that was on the wire when the subscriber stopped: give it all back.
            runtime.gate.free(len(fresh))
            runtime.late_releases.append(asyncio.create_task(runtime.settler.release_many(fresh)))

    def _is_repeat(self, runtime: _Runtime, message: ReceivedMessage) -> bool:
        """Whether `message` was delivered before and is held or deleted here (see dedup.py)."""
        held = runtime.deliveries.held(message.message_id)
        if held is not None and held.settlement is None:
            # Still being worked on: carry on with the newer receipt handle.
            held.data["ReceiptHandle"] = message.receipt_handle
            runtime.heartbeat.track(held)
            outcome = "kept_newer_handle"
        elif runtime.deliveries.deleted(message.message_id) or (
            held is not None and self._removed(held)
        ):
            message.settlement = Settlement.ACKED
            runtime.acks.add(message.receipt_handle)
            outcome = "deleted_again"
        else:
            return False
        self.event_log.warning(
            "duplicate_delivery",
            queue=self.queue,
            message_id=message.message_id,
            receive_count=message.receive_count,
            outcome=outcome,
        )
        return True

    def _removed(self, message: ReceivedMessage) -> bool:
        """Deleted from the queue by its settlement (acked, or rejected to the DLQ or bin)."""
        return message.settlement is Settlement.ACKED or (
            message.settlement is Settlement.REJECTED and self.config.reject != "redrive"
        )

    def _finished(self, runtime: _Runtime, messages: list[ReceivedMessage]) -> None:
        for message in messages:
            runtime.deliveries.let_go(message, deleted=self._removed(message))
        runtime.gate.free(len(messages))

    async def _handle(self, message: ReceivedMessage) -> bool:
        """Run one message through FastStream; answer whether its FIFO group may go on."""
        token = _IN_HANDLER.set(True)
        try:
            # FastStream's own path: StopConsume / SystemExit stop this subscriber (see
            # `stop`), other errors were logged by its CriticalLogMiddleware and settled by
            # its ack policy.
            await self.consume(message)
        finally:
            _IN_HANDLER.reset(token)
        await self.settle_leftover(message)
        # A rejected message is gone (dlq, delete) or will never be handled (redrive):
        # its group goes on. A released one will come back, so its group must wait.
        return message.settlement in (Settlement.ACKED, Settlement.REJECTED)

    async def settle_leftover(self, message: ReceivedMessage) -> None:
        """Release a message nobody settled (AckPolicy.MANUAL, or no handler matched).

        Let go now rather than held invisible until its visibility lapses.
        """
        if message.settlement is None:
            self.event_log.warning(
                "message_unsettled", queue=self.queue, message_id=message.message_id
            )
            await message.nack()

    def _stop_soon(self) -> None:
        # stop() waits for running handlers, this one included: it cannot be awaited here.
        if self._stopping is None:
            outside = contextvars.copy_context()
            outside.run(_IN_HANDLER.set, False)
            self._stopping = asyncio.create_task(self.stop(), context=outside)

    @override
    async def stop(self) -> None:
        if _IN_HANDLER.get():
            # consume() stopping on a handler's StopConsume: drain once this handler is done.
            self.running = False
            self._stop_soon()
            return
        self.running = False
        runtime = self._runtime
        if runtime is not None:
            # One drain, however many callers (broker.stop and a StopConsume may race);
            # the runtime stays in place meanwhile, for receives still coming back.
            if runtime.drained is None:
                runtime.drained = asyncio.ensure_future(self._drain(runtime))
            await asyncio.shield(runtime.drained)
            if self._runtime is runtime:
                self._runtime = None
        await super().stop()

    async def _drain(self, runtime: _Runtime) -> None:
        loop = asyncio.get_running_loop()
        timeout = self._outer_config.graceful_timeout
        deadline = None if timeout is None else loop.time() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - loop.time())

        # A long poll on the wire ends by itself within wait_time_s; it is waited for even
        # past the graceful timeout (see Receiver.stop), but not longer than that.
        polls_end = loop.time() + self.config.wait_time_s + LONG_POLL_MARGIN_S
        receiving = runtime.receiver.stop(runtime.poller_tasks)
        unstarted = runtime.scheduler.close()
        await runtime.settler.release_many(unstarted)

        if not await runtime.scheduler.wait_idle(left()):
            interrupted = await runtime.scheduler.cancel()
            await runtime.settler.release_many(interrupted)
            self._log(
                logging.WARNING,
                f"graceful timeout ({timeout} s) passed: {len(interrupted)} handlers cancelled",
                extra=self.get_log_context(None),
            )
        if receiving:
            _, late = await asyncio.wait(receiving, timeout=max(0.0, polls_end - loop.time()))
            for task in late:  # SQS did not answer in time: stop waiting
                task.cancel()
            await asyncio.gather(*receiving, return_exceptions=True)
        await asyncio.gather(*runtime.late_releases)
        await runtime.acks.close()
        self.event_log.info("subscriber_stopped", queue=self.queue, released=len(unstarted))
