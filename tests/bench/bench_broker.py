"""SQSBroker against a hand-written aiobotocore receive/delete loop, on one embedded moto.

    .venv/bin/python -m tests.bench.bench_broker [--messages 1000] [--groups 50]
        [--workers 8] [--rounds 5]

Both consume the same FIFO backlog (messages spread over the groups, interleaved) with a
trivial handler and the same concurrency budget: the broker with max_workers=W, the raw
loop with W concurrent receive -> handle each -> DeleteMessageBatch loops. Each round
preloads a fresh queue for each contestant; the figures are medians over the rounds:
messages per second until every message is handled and deleted, SQS API calls per
message made by the consuming client (preloading not counted), and the broker/raw ratio
of each round (the two run back to back, so a busy machine weighs on both alike). Both
are also checked for correctness: each message handled exactly once, each group in send
order.

EmbeddedMoto serialises SQS calls (moto alone races: a receive can hand out a message
being deleted and lock its FIFO group for a visibility timeout), so the figures measure
the consumers, not moto's races.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from faststream_sqs import SQSBroker
from infra.embedded.moto import EmbeddedMoto

CLIENT_CONFIG = AioConfig(max_pool_connections=64, retries={"max_attempts": 1, "mode": "standard"})


@dataclass
class Run:
    name: str
    seconds: float
    calls: Counter[str]
    handled: list[tuple[str, int]]
    messages: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def calls_per_message(self) -> float:
        return sum(self.calls.values()) / self.messages

    def violations(self) -> tuple[int, int]:
        """(messages not handled exactly once, groups not handled in send order)."""
        counts = Counter(self.handled)
        not_once = self.messages - sum(1 for count in counts.values() if count == 1)
        by_group: dict[str, list[int]] = defaultdict(list)
        for group, n in self.handled:
            by_group[group].append(n)
        out_of_order = sum(1 for ns in by_group.values() if ns != sorted(ns))
        return not_once, out_of_order


async def counted_client(
    endpoint: str, stack: contextlib.AsyncExitStack
) -> tuple[Any, Counter[str]]:
    client = await stack.enter_async_context(
        get_session().create_client(
            "sqs",
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=CLIENT_CONFIG,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
    )
    calls: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.sqs", count)
    return client, calls


async def fresh_queue(admin: Any, *, messages: int, groups: int) -> tuple[str, str]:
    name = f"bench-{uuid.uuid4().hex[:8]}.fifo"
    url = (await admin.create_queue(QueueName=name, Attributes={"FifoQueue": "true"}))["QueueUrl"]
    for start in range(0, messages, 10):
        entries = [
            {
                "Id": str(n - start),
                "MessageBody": json.dumps({"group": f"g{n % groups}", "n": n}),
                "MessageGroupId": f"g{n % groups}",
                "MessageDeduplicationId": f"{n}",
            }
            for n in range(start, min(start + 10, messages))
        ]
        response = await admin.send_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed"), response["Failed"]
    return name, url


async def drained(admin: Any, url: str) -> bool:
    attributes = (
        await admin.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"] == "0"
        and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


async def until(predicate: Callable[[], Awaitable[bool] | bool], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not finish")
        await asyncio.sleep(0.005)


async def run_raw(endpoint: str, admin: Any, *, messages: int, groups: int, workers: int) -> Run:
    _, url = await fresh_queue(admin, messages=messages, groups=groups)
    handled: list[tuple[str, int]] = []
    async with contextlib.AsyncExitStack() as stack:
        client, calls = await counted_client(endpoint, stack)
        stop = asyncio.Event()

        async def loop() -> None:
            while not stop.is_set():
                response = await client.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                batch = response.get("Messages", [])
                for message in batch:  # a batch holds each group's messages in order
                    body = json.loads(message["Body"])
                    handled.append((body["group"], body["n"]))
                if batch:
                    await client.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(batch)
                        ],
                    )

        started = time.monotonic()
        tasks = [asyncio.create_task(loop()) for _ in range(workers)]
        await until(lambda: len(handled) >= messages)
        await until(lambda: drained(admin, url))
        seconds = time.monotonic() - started
        snapshot = Counter(calls)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await admin.delete_queue(QueueUrl=url)
    return Run("raw loop", seconds, snapshot, handled, messages)


async def run_broker(endpoint: str, admin: Any, *, messages: int, groups: int, workers: int) -> Run:
    name, url = await fresh_queue(admin, messages=messages, groups=groups)
    handled: list[tuple[str, int]] = []
    async with contextlib.AsyncExitStack() as stack:
        client, calls = await counted_client(endpoint, stack)
        broker = SQSBroker(client=client, logger=None, graceful_timeout=10)

        @broker.subscriber(name, max_workers=workers, batch_size=10, wait_time_s=1)
        async def handle(body: dict[str, Any]) -> None:
            handled.append((body["group"], body["n"]))

        started = time.monotonic()
        await broker.start()
        await until(lambda: len(handled) >= messages)
        await until(lambda: drained(admin, url))
        seconds = time.monotonic() - started
        snapshot = Counter(calls)
        await broker.stop()
    await admin.delete_queue(QueueUrl=url)
    return Run("SQSBroker", seconds, snapshot, handled, messages)


def report(runs: list[Run]) -> None:
    rate = statistics.median(r.rate for r in runs)
    calls = statistics.median(r.calls_per_message for r in runs)
    total: Counter[str] = Counter()
    for r in runs:
        total.update(r.calls)
    per_op = ", ".join(
        f"{op} {count / sum(r.messages for r in runs):.3f}" for op, count in total.most_common()
    )
    wrong = [r.violations() for r in runs]
    print(
        f"  {runs[0].name:<10} {rate:8.1f} msg/s  {calls:.3f} calls/msg  ({per_op})"
        f"  rounds: {', '.join(f'{r.rate:.0f}' for r in runs)} msg/s"
        f"  not-once/out-of-order: {wrong}"
    )


async def main(args: argparse.Namespace) -> None:
    server = EmbeddedMoto().start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            admin, _ = await counted_client(server.url, stack)
            shape = {"messages": args.messages, "groups": args.groups, "workers": args.workers}
            raws, brokers = [], []
            for round_ in range(args.rounds):
                # alternate who goes first, so warm-up and drift fall on both
                order = [run_raw, run_broker] if round_ % 2 == 0 else [run_broker, run_raw]
                for contestant in order:
                    run = await contestant(server.url, admin, **shape)
                    (raws if run.name == "raw loop" else brokers).append(run)
            print(
                f"FIFO, {args.messages} messages in {args.groups} groups, {args.workers} "
                f"workers, {args.rounds} rounds, one EmbeddedMoto"
            )
            report(raws)
            report(brokers)
            ratios = [broker.rate / raw.rate for broker, raw in zip(brokers, raws, strict=True)]
            print(
                f"  broker / raw: {statistics.median(ratios):.2f}x median of rounds "
                f"({', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.8); "
                "calls/msg target <= 0.25"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(arguments))
