"""Ack batching, heartbeat and back-pressure against a fake SQS client (no network)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqs_logs import capture_logs

from faststream_sqs import acks as acks_module
from faststream_sqs import receiver as receiver_module
from faststream_sqs.acks import AckBatcher
from faststream_sqs.heartbeat import MAX_HELD_S, Heartbeat
from faststream_sqs.queue import QueueInfo
from faststream_sqs.receiver import BufferGate, Receiver
from faststream_sqs.settlement import ReceivedMessage


class FakeSQS:
    """Records batch calls; `failing` entries come back in `Failed` once each."""

    def __init__(self) -> None:
        self.deletes: list[list[str]] = []
        self.renewals: list[list[tuple[str, int]]] = []
        self.failing: dict[str, bool] = {}  # receipt handle -> sender fault
        self.raise_next = 0
        self.hold_renewal: asyncio.Event | None = None
        self.receives = 0
        self.batches: list[list[dict[str, Any]]] = []

    async def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:
        self.deletes.append([e["ReceiptHandle"] for e in Entries])
        if self.raise_next:
            self.raise_next -= 1
            raise ConnectionError("sqs went away")
        failed = [
            {"Id": e["Id"], "SenderFault": self.failing.pop(e["ReceiptHandle"]), "Code": "X"}
            for e in Entries
            if e["ReceiptHandle"] in self.failing
        ]
        return {"Successful": [], "Failed": failed}

    async def change_message_visibility_batch(
        self,
        *,
        QueueUrl: str,
        Entries: list[dict[str, Any]],
    ) -> Any:
        self.renewals.append([(e["ReceiptHandle"], e["VisibilityTimeout"]) for e in Entries])
        if self.hold_renewal is not None:
            await self.hold_renewal.wait()
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    async def receive_message(self, **_: Any) -> Any:
        self.receives += 1
        if self.batches:
            return {"Messages": self.batches.pop(0)}
        await asyncio.sleep(3600)
        return {}


def message(n: int, *, received_at: float | None = None) -> ReceivedMessage:
    return ReceivedMessage(
        data={"MessageId": f"m{n}", "ReceiptHandle": f"rh{n}"},
        queue=QueueInfo(name="q", url="u", fifo=False),
        settler=None,  # type: ignore[arg-type]
        received_at=time.monotonic() if received_at is None else received_at,
    )


async def stays(predicate: Any, window: float = 0.02) -> bool:
    """Whether `predicate` holds throughout `window` seconds (what must NOT happen, doesn't)."""
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        if not predicate():
            return False
        await asyncio.sleep(0.001)
    return bool(predicate())


async def wait_for(predicate: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.001)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acks_module, "ACK_RETRY_BACKOFF_S", 0.001)


async def test_ten_acks_go_out_in_one_call_at_once() -> None:
    sqs = FakeSQS()
    batcher = AckBatcher(sqs, queue_url="u", flush_after_s=60)  # type: ignore[arg-type]
    runner = asyncio.create_task(batcher.run())
    try:
        for n in range(10):
            batcher.add(f"rh{n}")
        await wait_for(lambda: sqs.deletes)
        assert sqs.deletes == [[f"rh{n}" for n in range(10)]]
    finally:
        runner.cancel()


async def test_a_few_acks_go_out_together_after_the_flush_delay() -> None:
    sqs = FakeSQS()
    batcher = AckBatcher(sqs, queue_url="u", flush_after_s=0.05)  # type: ignore[arg-type]
    runner = asyncio.create_task(batcher.run())
    try:
        started = time.monotonic()
        for n in range(3):
            batcher.add(f"rh{n}")
        await wait_for(lambda: sqs.deletes)
        assert time.monotonic() - started >= 0.04
        assert sqs.deletes == [["rh0", "rh1", "rh2"]]
    finally:
        runner.cancel()


@pytest.mark.usefixtures("fast_retries")
async def test_entries_sqs_failed_on_its_side_are_retried_and_sender_faults_are_not() -> None:
    sqs = FakeSQS()
    sqs.failing = {"rh1": False, "rh2": True}
    batcher = AckBatcher(sqs, queue_url="u", flush_after_s=0.001)  # type: ignore[arg-type]
    runner = asyncio.create_task(batcher.run())
    try:
        with capture_logs() as logs:
            for n in range(3):
                batcher.add(f"rh{n}")
            await batcher.close()
    finally:
        runner.cancel()
    assert sqs.deletes == [["rh0", "rh1", "rh2"], ["rh1"]]
    assert [entry["event"] for entry in logs] == ["ack_failed"]
    assert batcher.idle


@pytest.mark.usefixtures("fast_retries")
async def test_a_failed_call_is_retried_and_close_waits_for_it() -> None:
    sqs = FakeSQS()
    sqs.raise_next = 2
    batcher = AckBatcher(sqs, queue_url="u", flush_after_s=60)  # type: ignore[arg-type]
    runner = asyncio.create_task(batcher.run())
    try:
        batcher.add("rh0")
        await batcher.close()
    finally:
        runner.cancel()
    assert sqs.deletes == [["rh0"]] * 3
    assert batcher.idle


@pytest.mark.usefixtures("fast_retries")
async def test_a_delete_failing_every_time_is_given_up_loudly() -> None:
    sqs = FakeSQS()
    sqs.raise_next = 99
    batcher = AckBatcher(sqs, queue_url="u", flush_after_s=60)  # type: ignore[arg-type]
    runner = asyncio.create_task(batcher.run())
    try:
        with capture_logs() as logs:
            batcher.add("rh0")
            await batcher.close()
    finally:
        runner.cancel()
    assert len(sqs.deletes) == acks_module.ACK_MAX_ATTEMPTS
    assert logs[-1]["event"] == "ack_given_up"


async def test_heartbeat_renews_only_what_is_past_half_its_timeout() -> None:
    sqs = FakeSQS()
    heartbeat = Heartbeat(sqs, queue_url="u", visibility_timeout_s=10)  # type: ignore[arg-type]
    now = time.monotonic()
    fresh, old = message(1, received_at=now), message(2, received_at=now - 6)
    heartbeat.track(fresh)
    heartbeat.track(old)

    await heartbeat.renew_due()
    await heartbeat.renew_due()  # renewed: not due again for another half timeout

    assert sqs.renewals == [[("rh2", 10)]]


async def test_heartbeat_follows_a_message_whose_receipt_handle_changed() -> None:
    sqs = FakeSQS()
    heartbeat = Heartbeat(sqs, queue_url="u", visibility_timeout_s=10)  # type: ignore[arg-type]
    held = message(1, received_at=time.monotonic() - 6)
    heartbeat.track(held)
    held.data["ReceiptHandle"] = "rh1-newer"
    await heartbeat.renew_due()
    assert sqs.renewals == [[("rh1-newer", 10)]]


async def test_heartbeat_stops_at_twelve_hours_after_receipt() -> None:
    sqs = FakeSQS()
    heartbeat = Heartbeat(sqs, queue_url="u", visibility_timeout_s=600)  # type: ignore[arg-type]
    nearly = message(1, received_at=time.monotonic() - MAX_HELD_S + 100)
    over = message(2, received_at=time.monotonic() - MAX_HELD_S)
    heartbeat.track(nearly)
    heartbeat.track(over)
    with capture_logs() as logs:
        await heartbeat.renew_due()
    ((handle, timeout),) = sqs.renewals[0]
    assert handle == "rh1"
    assert 90 <= timeout < 100
    assert [entry["event"] for entry in logs] == ["heartbeat_cap_reached"]
    assert len(heartbeat) == 1


async def test_forgetting_a_message_waits_for_its_renewal_on_the_wire() -> None:
    # a release must land after a renewal, or the renewal would hide it again
    sqs = FakeSQS()
    sqs.hold_renewal = asyncio.Event()
    heartbeat = Heartbeat(sqs, queue_url="u", visibility_timeout_s=10)  # type: ignore[arg-type]
    held = message(1, received_at=time.monotonic() - 6)
    heartbeat.track(held)
    renewing = asyncio.create_task(heartbeat.renew_due())
    await wait_for(lambda: sqs.renewals)

    forgetting = asyncio.create_task(heartbeat.forget(held))
    assert await stays(lambda: not forgetting.done())
    sqs.hold_renewal.set()
    await forgetting
    await renewing
    assert len(heartbeat) == 0


async def test_the_gate_stops_polling_while_the_buffer_is_full() -> None:
    gate = BufferGate(20)
    await gate.reserve(10)
    await gate.reserve(10)
    blocked = asyncio.create_task(gate.reserve(10))
    assert await stays(lambda: not blocked.done())
    gate.free(5)
    assert await stays(lambda: not blocked.done())
    gate.received(5)
    await asyncio.wait_for(blocked, 1)
    assert gate.used == 20


async def test_for_fifo_the_gate_expects_a_group_per_receive_and_stops_at_enough_groups() -> None:
    held = 8
    gate = BufferGate(100, groups_wanted=9, groups_held=lambda: held)
    await gate.reserve(10)  # 8 groups held + 0 receives out < 9
    second = asyncio.create_task(gate.reserve(10))
    assert await stays(lambda: not second.done())  # 8 held + 1 out is enough
    gate.received(10)  # the first receive came back empty
    await asyncio.wait_for(second, 1)
    third = asyncio.create_task(gate.reserve(10))
    gate.received(5)  # the second brought five messages ...
    held = 10  # ... of two new groups
    gate.free(0)
    assert await stays(lambda: not third.done())
    held = 8  # two groups were worked off
    gate.free(0)
    await asyncio.wait_for(third, 1)
    assert gate.used == 15  # five kept by the second receive, ten reserved by the third


async def test_pollers_never_hold_more_than_the_buffer_and_stop_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(receiver_module, "SHORT_BATCH_PAUSE_S", 0)
    sqs = FakeSQS()
    sqs.batches = [[{"MessageId": f"m{b}{i}"} for i in range(10)] for b in range(5)]
    gate = BufferGate(20)
    delivered: list[list[dict[str, Any]]] = []
    running = True
    receiver = Receiver(
        sqs,  # type: ignore[arg-type]
        queue_url="u",
        batch_size=10,
        wait_time_s=20,
        visibility_timeout_s=30,
        gate=gate,
        deliver=delivered.append,
        running=lambda: running,
    )
    pollers = [asyncio.create_task(receiver.poll()) for _ in range(4)]
    await wait_for(lambda: len(delivered) == 2)
    # THEN two batches fill the buffer and nobody asks for a third
    assert await stays(lambda: sqs.receives == 2)
    assert gate.used == 20
    # WHEN one batch is handled, one more receive happens
    gate.free(10)
    await wait_for(lambda: len(delivered) == 3)
    running = False
    busy = receiver.stop(pollers)
    assert busy == []  # nobody had a call out: all cancelled
    await asyncio.gather(*pollers, return_exceptions=True)
    assert all(p.cancelled() or p.done() for p in pollers)


async def test_a_failing_receive_is_logged_and_retried_after_a_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(receiver_module, "RECEIVE_ERROR_BACKOFF_S", 0.01)
    calls = 0

    async def broken_receive(**_: Any) -> Any:
        nonlocal calls
        calls += 1
        raise ConnectionError("endpoint down")

    sqs = FakeSQS()
    sqs.receive_message = broken_receive  # type: ignore[method-assign]
    gate = BufferGate(10)
    receiver = Receiver(
        sqs,  # type: ignore[arg-type]
        queue_url="u",
        batch_size=10,
        wait_time_s=20,
        visibility_timeout_s=30,
        gate=gate,
        deliver=lambda batch: None,
        running=lambda: True,
    )
    with capture_logs() as logs:
        poller = asyncio.create_task(receiver.poll())
        await wait_for(lambda: calls >= 3)
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
    assert {entry["event"] for entry in logs} == {"receive_failed"}
    assert gate.used == 0
