"""An in-memory target for the load generator: a pool, a queue delay, and counted calls."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

from schemas.errors import ErrorCode
from schemas.replies import Reply, ReplyError, ReplyStatus


@dataclass
class FakeTarget:
    """Answers each request after ``polls_until_answer`` reads; allocations from ``pool``.

    ``silent`` request indexes (in submit order) are never answered.
    """

    pool: int = 10
    polls_until_answer: int = 1
    silent: set[int] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)
    held: dict[str, str] = field(default_factory=dict)  # track -> sandbox
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _free: list[str] = field(default_factory=list)
    _replies: dict[str, Reply] = field(default_factory=dict)
    _reads: Counter[str] = field(default_factory=Counter)
    _order: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._free = [f"sbx-{n:04d}" for n in range(self.pool)]

    async def submit(
        self, *, action: str, track_id: str, sandbox_id: str | None, within_s: float
    ) -> str:
        self.calls["submit"] += 1
        n = next(self._ids)
        request_id = f"req_{n:06d}"
        self._order[request_id] = n
        if action == "allocate":
            if track_id in self.held:
                result = {"sandbox_id": self.held[track_id], "idempotent": True}
                reply = Reply(
                    request_id=request_id,
                    action=action,
                    status=ReplyStatus.SUCCEEDED,
                    result=result,
                    completed_at=time.time(),
                )
            elif self._free:
                self.held[track_id] = self._free.pop(0)
                reply = Reply(
                    request_id=request_id,
                    action=action,
                    status=ReplyStatus.SUCCEEDED,
                    result={"sandbox_id": self.held[track_id]},
                    completed_at=time.time(),
                )
            else:
                reply = Reply(
                    request_id=request_id,
                    action=action,
                    status=ReplyStatus.FAILED,
                    error=ReplyError(code=ErrorCode.NO_SANDBOXES_AVAILABLE, message="none"),
                    completed_at=time.time(),
                )
        else:
            assert self.held.pop(track_id) == sandbox_id
            self._free.append(sandbox_id)  # recycled at once, to exercise the double check
            reply = Reply(
                request_id=request_id,
                action=action,
                status=ReplyStatus.SUCCEEDED,
                result={"sandbox_id": sandbox_id},
                completed_at=time.time(),
            )
        self._replies[request_id] = reply
        return request_id

    async def read(self, request_id: str, *, track_id: str) -> Reply | None:
        self.calls["read"] += 1
        self._reads[request_id] += 1
        if self._order[request_id] in self.silent:
            return None
        if self._reads[request_id] < self.polls_until_answer:
            return None
        return self._replies[request_id]

    def loadgen_reads(self) -> int:
        return self.calls["read"]

    def client_calls(self) -> dict[str, int]:
        return dict(self.calls)

    async def aclose(self) -> None:
        pass
