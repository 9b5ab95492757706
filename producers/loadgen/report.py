"""What a load run measured: one record per request, and the summary built from them.

Latency quantiles are exact (nearest rank over the sorted samples): a run holds at most
100,000 requests, so sorting is cheap and no histogram approximation is needed.

The double-allocation check runs over every reply: a sandbox that succeeded for two tracks
is a double unless the first holder's release succeeded before the second claim.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel

#: Outcome of a request that got a succeeded reply.
SUCCEEDED: Final = "succeeded"
#: Outcome of a request with no terminal reply before its timeout (or the run's end).
NO_REPLY: Final = "NO_REPLY"
#: Outcome of a malformed message that carries no request_id: nothing can answer it.
UNANSWERABLE: Final = "UNANSWERABLE"

QUANTILES: Final = (50, 95, 99)


@dataclass
class RequestRecord:
    """One request as the load generator saw it; times are seconds since the run started."""

    index: int
    track_id: str
    action: str
    started: float
    started_wall: float
    kind: str = "good"  # or "poison": a malformed message sent straight to the queue
    request_id: str | None = None
    accepted: float | None = None
    finished: float | None = None
    outcome: str | None = None  # SUCCEEDED, an error code, HTTP_<status>, NO_REPLY, ...
    sandbox_id: str | None = None
    idempotent: bool = False
    completed_at: float | None = None  # the reply's completed_at (epoch seconds)
    polls: int = 0

    @property
    def terminal(self) -> bool:
        return self.outcome is not None and self.outcome not in {NO_REPLY}

    @property
    def latency(self) -> float | None:
        """Seconds from the first byte sent to the terminal reply seen."""
        if self.finished is None or self.outcome is None or self.outcome == NO_REPLY:
            return None
        return self.finished - self.started

    @property
    def reply_latency(self) -> float | None:
        """Seconds from the request sent to its reply written (no poll interval in it)."""
        if self.completed_at is None:
            return None
        return max(self.completed_at - self.started_wall, 0.0)


def quantile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank quantile of already sorted values (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class LatencyStats(BaseModel):
    count: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, seconds: Iterable[float]) -> LatencyStats:
        values = sorted(seconds)
        if not values:
            return cls(count=0, mean_ms=None, p50_ms=None, p95_ms=None, p99_ms=None, max_ms=None)

        def ms(v: float) -> float:
            return round(v * 1000, 1)

        p50, p95, p99 = (quantile(values, p) for p in QUANTILES)
        return cls(
            count=len(values),
            mean_ms=ms(sum(values) / len(values)),
            p50_ms=ms(p50),
            p95_ms=ms(p95),
            p99_ms=ms(p99),
            max_ms=ms(values[-1]),
        )


class Double(BaseModel):
    sandbox_id: str
    tracks: list[str]


def find_doubles(records: Iterable[RequestRecord]) -> list[Double]:
    """Sandboxes held by two tracks at once, from the replies alone.

    Allocations of a sandbox are ordered by their reply's completed_at; passing from holder
    A to holder B is fine only when A's release of it succeeded no later than B's claim.
    """
    claims: dict[str, list[tuple[float, str]]] = defaultdict(list)
    releases: dict[tuple[str, str], float] = {}
    for r in records:
        if r.outcome != SUCCEEDED or r.sandbox_id is None:
            continue
        when = r.completed_at if r.completed_at is not None else r.started_wall
        if r.action == "allocate":
            claims[r.sandbox_id].append((when, r.track_id))
        elif r.action == "release":
            key = (r.sandbox_id, r.track_id)
            releases[key] = min(when, releases.get(key, math.inf))
    doubles = []
    for sandbox_id, held in claims.items():
        held.sort()
        holders = [track for _, track in held]
        if len(set(holders)) < 2:
            continue  # idempotent repeats of one track
        bad = False
        for (_, before), (at, after) in itertools.pairwise(held):
            if before != after and releases.get((sandbox_id, before), math.inf) > at:
                bad = True
        if bad:
            doubles.append(Double(sandbox_id=sandbox_id, tracks=sorted(set(holders))))
    return doubles


class CallCounts(BaseModel):
    """API calls, in total and per request sent (good and poison alike)."""

    calls: dict[str, int]
    per_request: dict[str, float]

    @classmethod
    def of(cls, calls: Mapping[str, int], requests: int) -> CallCounts:
        calls = {k: v for k, v in sorted(calls.items()) if v}
        n = max(requests, 1)
        return cls(calls=calls, per_request={k: round(v / n, 3) for k, v in calls.items()})


class ServerCalls(BaseModel):
    """Calls the embedded moto server answered during the run (every client's, not only ours).

    ``dynamodb_without_loadgen`` leaves out the reply reads the load generator caused
    (through the gateway or itself): what the consumers spent.
    """

    by_action: CallCounts
    sqs: int
    dynamodb: int
    sqs_per_request: float
    dynamodb_per_request: float
    dynamodb_without_loadgen: int
    dynamodb_without_loadgen_per_success: float | None


class Summary(BaseModel):
    """The figures of one run (also the ``--json-out`` document, beside the options)."""

    target: str
    pacing: str
    started_at: str
    wall_s: float
    requests: int
    poison: int
    terminal: int
    without_reply: int
    outcomes: dict[str, int]
    distinct_sandboxes: int
    doubles: list[Double]
    throughput_per_s: float
    succeeded_per_s: float
    latency: dict[str, LatencyStats]
    reply_written: dict[str, LatencyStats]
    submit: LatencyStats
    client_calls: CallCounts
    server_calls: ServerCalls | None
    dlq_messages: int | None = None
    timeline: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        """No double allocation and every request answered."""
        return not self.doubles and self.without_reply == 0


def server_calls(
    delta: Mapping[str, int], *, requests: int, loadgen_reads: int, successes: int
) -> ServerCalls:
    sqs = sum(v for k, v in delta.items() if k.startswith("AmazonSQS."))
    ddb = sum(v for k, v in delta.items() if k.startswith("DynamoDB_"))
    n = max(requests, 1)
    consumer_ddb = max(ddb - loadgen_reads, 0)
    return ServerCalls(
        by_action=CallCounts.of(delta, requests),
        sqs=sqs,
        dynamodb=ddb,
        sqs_per_request=round(sqs / n, 3),
        dynamodb_per_request=round(ddb / n, 3),
        dynamodb_without_loadgen=consumer_ddb,
        dynamodb_without_loadgen_per_success=round(consumer_ddb / successes, 3)
        if successes
        else None,
    )


def timeline(records: Sequence[RequestRecord], *, bucket_s: float = 1.0) -> list[dict[str, Any]]:
    """Per time bucket (by when the reply was seen): answered, succeeded, p50/p99/max ms."""
    buckets: dict[int, list[RequestRecord]] = defaultdict(list)
    for r in records:
        if r.latency is not None and r.finished is not None:
            buckets[int(r.finished // bucket_s)].append(r)
    out = []
    for b in sorted(buckets):
        rs = buckets[b]
        lat = sorted(r.latency for r in rs if r.latency is not None)
        out.append(
            {
                "t_s": round(b * bucket_s, 3),
                "answered": len(rs),
                "succeeded": sum(1 for r in rs if r.outcome == SUCCEEDED),
                "p50_ms": round(quantile(lat, 50) * 1000, 1),
                "p99_ms": round(quantile(lat, 99) * 1000, 1),
                "max_ms": round(lat[-1] * 1000, 1),
            }
        )
    return out


def summarize(
    records: Sequence[RequestRecord],
    *,
    target: str,
    pacing: str,
    started_at: str,
    client_calls: Mapping[str, int],
    server_delta: Mapping[str, int] | None,
    loadgen_reads: int,
    dlq_messages: int | None = None,
) -> Summary:
    good = [r for r in records if r.kind == "good"]
    poison = [r for r in records if r.kind == "poison"]
    outcomes = Counter(r.outcome or NO_REPLY for r in records)
    ends = [r.finished for r in records if r.finished is not None]
    wall = max(ends) if ends else 0.0
    terminal = [r for r in records if r.terminal]
    succeeded = [r for r in good if r.outcome == SUCCEEDED]
    actions = sorted({r.action for r in good})
    allocations = [r for r in succeeded if r.action == "allocate"]
    return Summary(
        target=target,
        pacing=pacing,
        started_at=started_at,
        wall_s=round(wall, 3),
        requests=len(good),
        poison=len(poison),
        terminal=len(terminal),
        without_reply=sum(1 for r in records if not r.terminal and r.outcome != UNANSWERABLE),
        outcomes=dict(sorted(outcomes.items())),
        distinct_sandboxes=len({r.sandbox_id for r in allocations}),
        doubles=find_doubles(records),
        throughput_per_s=round(len(terminal) / wall, 2) if wall else 0.0,
        succeeded_per_s=round(len(succeeded) / wall, 2) if wall else 0.0,
        latency={
            a: LatencyStats.of(r.latency for r in good if r.action == a and r.latency is not None)
            for a in actions
        },
        reply_written={
            a: LatencyStats.of(
                r.reply_latency for r in good if r.action == a and r.reply_latency is not None
            )
            for a in actions
        },
        submit=LatencyStats.of(r.accepted - r.started for r in records if r.accepted is not None),
        client_calls=CallCounts.of(client_calls, len(records)),
        server_calls=server_calls(
            server_delta,
            requests=len(records),
            loadgen_reads=loadgen_reads,
            successes=len(allocations),
        )
        if server_delta is not None
        else None,
        dlq_messages=dlq_messages,
        timeline=timeline(records),
    )
