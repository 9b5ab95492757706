"""The stream Lambda (AWS): the pool table's DynamoDB Stream → lease history + EventBridge.

An event source mapping hands it batches of stream records (only sandbox items: its filter
keeps ``PK`` beginning ``SBX#``). Each batch goes through the local reader's own
``consumers.events.changes.meaning``, so both hosts derive the same history and the same
event ids: the history writes (conditional, a replay changes nothing), then ``PutEvents``
to the bus (source ``sandbox-broker``, detail-type the event type, detail the event's JSON),
ten entries per call. Any failure — a refused entry included — fails the invocation: the
mapping retries the batch (bisecting it on repeated failure) and, once its retries are
spent, sends the batch's description to the failure-destination queue (the DLQ, alarmed);
nothing is skipped silently. Delivery is at least once; receivers deduplicate on ``id``.

Like the read Lambda it keeps one event loop and one pair of clients across invocations.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AsyncExitStack
from typing import Any, Final

import structlog

from consumers.events.changes import Meaning, meaning
from consumers.stores.clients import client_config, dynamodb_client, service_client
from consumers.stores.history import HistoryStore
from infra.logging import configure_logging
from schemas.events import EVENT_SOURCE, LeaseEvent
from schemas.settings import EventsLambdaSettings

log = structlog.get_logger(__name__)

CLIENT_CONFIG: Final = client_config(connect_timeout_s=2, read_timeout_s=5, max_attempts=3)
#: PutEvents takes at most ten entries per call.
PUT_EVENTS_BATCH: Final = 10


class DeliveryError(RuntimeError):
    """EventBridge refused entries: the batch is retried as a whole."""


def entries(events: list[LeaseEvent], *, bus: str) -> list[dict[str, Any]]:
    """The PutEvents entries of ``events`` (``detail`` is the webhook's JSON body)."""
    return [
        {
            "Source": EVENT_SOURCE,
            "DetailType": e.type.value,
            "Detail": json.dumps(e.model_dump(mode="json")),
            "EventBusName": bus,
            "Resources": [],
        }
        for e in events
    ]


async def handle(
    records: list[dict[str, Any]], *, history: HistoryStore, events: Any, bus: str
) -> Meaning:
    """History, then events, of one batch; raises when anything was not taken."""
    batch = Meaning()
    now = time.time()
    for record in records:
        batch.extend(meaning(record, now=now))
    for op in batch.history:
        await history.apply(op)
    pending = entries(batch.events, bus=bus)
    for start in range(0, len(pending), PUT_EVENTS_BATCH):
        chunk = pending[start : start + PUT_EVENTS_BATCH]
        resp = await events.put_events(Entries=chunk)
        if resp.get("FailedEntryCount"):
            codes = {e.get("ErrorCode") for e in resp.get("Entries", []) if e.get("ErrorCode")}
            raise DeliveryError(f"EventBridge refused {resp['FailedEntryCount']} entries: {codes}")
    for e in batch.events:
        log.info("lease_event", event_id=e.id, event_type=e.type.value, sandbox_id=e.sandbox_id)
    return batch


class Runtime:
    """Clients opened once per container, on the loop every invocation runs on."""

    def __init__(self, settings: EventsLambdaSettings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._stack = AsyncExitStack()
        self.history: HistoryStore | None = None
        self.events: Any = None

    async def _open(self) -> None:
        ddb = await self._stack.enter_async_context(dynamodb_client(self.settings, CLIENT_CONFIG))
        self.events = await self._stack.enter_async_context(
            service_client("events", self.settings, CLIENT_CONFIG)
        )
        self.history = HistoryStore(
            ddb, table=self.settings.names.pool_table, ttl_s=self.settings.history_ttl_s
        )

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            if self.history is None:
                await self._open()
            assert self.history is not None
            done = await handle(
                event.get("Records", []),
                history=self.history,
                events=self.events,
                bus=self.settings.events_bus_name,
            )
            return {"events": len(done.events), "history": len(done.history)}

        return self.loop.run_until_complete(run())


_runtime: Runtime | None = None


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    global _runtime
    if _runtime is None:
        settings = EventsLambdaSettings()
        configure_logging(settings.log_format, settings.log_level)
        _runtime = Runtime(settings)
    return _runtime.invoke(event)
