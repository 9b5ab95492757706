from __future__ import annotations

from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from consumers.metrics import BrokerMetrics
from consumers.services.allocation import AllocationService
from consumers.services.replies import ReplyFactory
from consumers.services.reservoir import CandidateReservoir
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from schemas.settings import CommonSettings
from tests.factories import sandbox


@dataclass
class AllocationEnv:
    settings: CommonSettings
    pool: PoolStore
    replies: ReplyStore
    metrics: BrokerMetrics

    def service(self, *, page_size: int = 100) -> AllocationService:
        """A consumer process's service (each has its own reservoir)."""
        reservoir = CandidateReservoir(
            lambda prefix, limit, start: self.pool.candidate_page(
                name_prefix=prefix, limit=limit, start_key=start
            ),
            page_size=page_size,
        )
        return AllocationService(
            self.pool,
            reservoir=reservoir,
            reply_factory=ReplyFactory(ttl_s=3600),
            metrics=self.metrics,
            lab_duration_s=4 * 3600,
        )

    async def seed(self, count: int, *, prefix: str = "lab-aws", start: int = 0) -> None:
        for n in range(start, start + count):
            assert await self.pool.put_available(sandbox(n, prefix=prefix))


@pytest.fixture
def alloc_env(provisioned: CommonSettings, ddb) -> AllocationEnv:
    replies = ReplyStore(ddb, table=provisioned.names.replies_table)
    pool = PoolStore(ddb, table=provisioned.names.pool_table, replies=replies)
    return AllocationEnv(provisioned, pool, replies, BrokerMetrics(CollectorRegistry()))
