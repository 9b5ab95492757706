"""AWS resource names from CONTRACT.md, with an optional prefix (one account, many stages)."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict

REQUESTS_QUEUE: Final = "sandbox-requests.fifo"
REQUESTS_DLQ: Final = "sandbox-requests-dlq.fifo"
JOBS_QUEUE: Final = "sandbox-jobs.fifo"
JOBS_DLQ: Final = "sandbox-jobs-dlq.fifo"
POOL_TABLE: Final = "sandbox-pool"
REPLIES_TABLE: Final = "sandbox-replies"
TENANTS_TABLE: Final = "sandbox-tenants"
HISTORY_TABLE: Final = "sandbox-history"


class ResourceNames(BaseModel):
    """Every queue and table name the system uses, prefix applied."""

    model_config = ConfigDict(frozen=True)

    requests_queue: str = REQUESTS_QUEUE
    requests_dlq: str = REQUESTS_DLQ
    jobs_queue: str = JOBS_QUEUE
    jobs_dlq: str = JOBS_DLQ
    pool_table: str = POOL_TABLE
    replies_table: str = REPLIES_TABLE
    tenants_table: str = TENANTS_TABLE
    history_table: str = HISTORY_TABLE

    @classmethod
    def with_prefix(cls, prefix: str = "") -> ResourceNames:
        return cls(
            requests_queue=prefix + REQUESTS_QUEUE,
            requests_dlq=prefix + REQUESTS_DLQ,
            jobs_queue=prefix + JOBS_QUEUE,
            jobs_dlq=prefix + JOBS_DLQ,
            pool_table=prefix + POOL_TABLE,
            replies_table=prefix + REPLIES_TABLE,
            tenants_table=prefix + TENANTS_TABLE,
            history_table=prefix + HISTORY_TABLE,
        )

    def dlq_of(self, queue: str) -> str:
        """The dead-letter queue paired with a source queue."""
        pairs = {self.requests_queue: self.requests_dlq, self.jobs_queue: self.jobs_dlq}
        return pairs[queue]
