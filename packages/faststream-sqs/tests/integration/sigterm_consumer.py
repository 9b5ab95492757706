"""A consumer process for the SIGTERM test: a FastStream app around one SQSBroker.

    python sigterm_consumer.py ENDPOINT QUEUE JOURNAL

Each handler writes "start N" when it begins and "done N" when it ends (about 1.5 s
later) to JOURNAL, so the test can tell what ran, what finished and what never started.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from faststream import FastStream
from pydantic import BaseModel

from faststream_sqs import SQSBroker

# Long enough that a SIGTERM sent once two handlers have started finds them running.
HANDLER_S = 1.5


class Item(BaseModel):
    n: int


def build(endpoint: str, queue: str, journal: Path) -> FastStream:
    broker = SQSBroker(endpoint_url=endpoint, region_name="us-east-1", graceful_timeout=20)

    @broker.subscriber(queue, max_workers=2, wait_time_s=1, visibility_timeout_s=30)
    async def handle(item: Item) -> None:
        with journal.open("a") as out:
            out.write(f"start {item.n}\n")
        await asyncio.sleep(HANDLER_S)
        with journal.open("a") as out:
            out.write(f"done {item.n}\n")

    return FastStream(broker)


if __name__ == "__main__":
    endpoint, queue, journal = sys.argv[1:4]
    asyncio.run(build(endpoint, queue, Path(journal)).run())
