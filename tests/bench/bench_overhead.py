"""Queue overhead (issue 8 scenario 6) and calls per allocation (issue 4), in one run.

    python -m tests.bench overhead [--n 100] [--concurrent 100] [--rounds 2]

On one stack (one consumer), one allocation at a time from fresh tracks:
1. queued, through the gateway: POST, SQS, consumer, reply row, GET polling (the track
   client's schedule: first poll after 100 ms, doubling to 1 s);
2. queued, straight onto the queue (SendMessage, GetItem polling on the same schedule);
3. 100 tracks at once through the gateway: conditional-check failures and DynamoDB calls
   per allocation under contention;
4. synchronous: the consumers' own AllocationService.allocate() called in this process
   against the same moto — the same claim, no queue, no polling.
Reported: p50/p99 of each, the ratio queued/synchronous, and where a queued allocation's
time goes (mean ms): POST, queue wait (sent -> handler stamps the reply), handler (claim
+ reply write, from the consumer's histogram), poll wait (reply durable -> seen).
DynamoDB calls per allocation are counted server-side by the embedded moto, less the
reply reads the load generator caused; the synchronous path counts its own calls.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from prometheus_client import CollectorRegistry

from consumers.metrics import BrokerMetrics
from consumers.services.allocation import AllocationService
from consumers.services.replies import ReplyFactory
from consumers.services.reservoir import CandidateReservoir
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from producers.loadgen.report import LatencyStats
from schemas.messages import AllocateMessage
from schemas.names import ResourceNames
from schemas.replies import ReplyStatus
from tests.bench.common import gateway_load, header, out_dir, parser, queue_load, ratio, run, save
from tests.bench.stack import BenchStack, running_stack


class TimedClient:
    """Wraps an aiobotocore client: counts and times every call by operation."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self.calls[name] += 1
                self.seconds[name] += time.perf_counter() - started

        return timed


async def direct_claims(stack: BenchStack, n: int, tag: str) -> dict[str, Any]:
    names = ResourceNames.with_prefix(stack.info["name_prefix"])
    config = AioConfig(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=64)
    async with get_session().create_client(
        "dynamodb",
        endpoint_url=stack.moto,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=config,
    ) as raw:
        ddb = TimedClient(raw)
        replies = ReplyStore(ddb, table=names.replies_table)  # type: ignore[arg-type]
        pool = PoolStore(ddb, table=names.pool_table, replies=replies)  # type: ignore[arg-type]
        reservoir = CandidateReservoir(
            lambda prefix, limit, start: pool.candidate_page(
                name_prefix=prefix, limit=limit, start_key=start
            ),
            page_size=100,
        )
        service = AllocationService(
            pool,
            reservoir=reservoir,
            reply_factory=ReplyFactory(ttl_s=86_400),
            metrics=BrokerMetrics(CollectorRegistry()),
            lab_duration_s=4 * 3600,
        )
        took = []
        ok = 0
        for i in range(n):
            msg = AllocateMessage(request_id=f"direct_{tag}_{i:05d}", track_id=f"direct-{tag}-{i}")
            started = time.perf_counter()
            reply = await service.allocate(msg)
            took.append(time.perf_counter() - started)
            ok += reply is not None and reply.status is ReplyStatus.SUCCEEDED
    return {
        "latency": LatencyStats.of(took).model_dump(),
        "succeeded": ok,
        "ddb_calls_per_allocation": round(sum(ddb.calls.values()) / n, 3),
        "ddb_calls": dict(ddb.calls),
        "ddb_ms_per_allocation": {
            k: round(v * 1000 / n, 2) for k, v in sorted(ddb.seconds.items())
        },
    }


def handler_ms(before: dict[str, float], after: dict[str, float]) -> float | None:
    key = "broker_allocation_latency_seconds_{}{{outcome=success}}"
    count = after.get(key.format("count"), 0) - before.get(key.format("count"), 0)
    total = after.get(key.format("sum"), 0) - before.get(key.format("sum"), 0)
    return round(total / count * 1000, 1) if count else None


def breakdown(summary: Any, handler: float | None) -> dict[str, float | None]:
    e2e = summary.latency["allocate"].mean_ms
    post = summary.submit.mean_ms
    stamped = summary.reply_written["allocate"].mean_ms
    if None in (e2e, post, stamped, handler):
        return {}
    return {
        "submit_ms": post,
        "queue_wait_ms": round(stamped - post, 1),
        "handler_ms": handler,
        "poll_wait_ms": round(e2e - stamped - handler, 1),
        "e2e_mean_ms": e2e,
    }


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--n", type=int, default=100, help="sequential allocations per path")
    p.add_argument("--concurrent", type=int, default=100, help="tracks in the contended run")
    args = p.parse_args(argv)
    figures = header("overhead")
    figures["rounds"] = []
    folder = out_dir("overhead", args.out)
    pool = args.rounds * (3 * args.n + args.concurrent) + 50
    with running_stack(folder / "stack", pool_size=pool, consumers=1) as s:
        for rnd in range(args.rounds):
            row: dict[str, Any] = {}
            m0 = s.metrics()
            gw = run(
                gateway_load(s, concurrency=1, requests=args.n, timeout_s=60, duration_s=600),
                folder,
                f"r{rnd}-gateway-c1",
                stack=s,
            ).summary
            m1 = s.metrics()
            q = run(
                queue_load(s, concurrency=1, requests=args.n, timeout_s=60, duration_s=600),
                folder,
                f"r{rnd}-queue-c1",
                stack=s,
            ).summary
            m2 = s.metrics()
            burst = run(
                gateway_load(s, burst=True, requests=args.concurrent, timeout_s=120),
                folder,
                f"r{rnd}-gateway-burst{args.concurrent}",
                stack=s,
            ).summary
            m3 = s.metrics()
            direct = asyncio.run(direct_claims(s, args.n, f"r{rnd}"))
            conflicts = m3.get("broker_allocate_conflicts_total", 0) - m2.get(
                "broker_allocate_conflicts_total", 0
            )
            successes = burst.outcomes.get("succeeded", 0)
            row["gateway_c1"] = {
                "e2e": gw.latency["allocate"].model_dump(),
                "breakdown": breakdown(gw, handler_ms(m0, m1)),
                "sqs_per_request": gw.server_calls.sqs_per_request if gw.server_calls else None,
                "ddb_per_success_consumers": gw.server_calls.dynamodb_without_loadgen_per_success
                if gw.server_calls
                else None,
                "server_calls": gw.server_calls.by_action.calls if gw.server_calls else None,
            }
            row["queue_c1"] = {
                "e2e": q.latency["allocate"].model_dump(),
                "breakdown": breakdown(q, handler_ms(m1, m2)),
                "ddb_per_success_consumers": q.server_calls.dynamodb_without_loadgen_per_success
                if q.server_calls
                else None,
            }
            row["contended"] = {
                "tracks": args.concurrent,
                "e2e": burst.latency["allocate"].model_dump(),
                "conflicts": conflicts,
                "conflicts_per_allocation": round(conflicts / successes, 3) if successes else None,
                "ddb_per_success_consumers": burst.server_calls.dynamodb_without_loadgen_per_success
                if burst.server_calls
                else None,
                "doubles": len(burst.doubles),
            }
            row["direct"] = direct
            row["ratio_p50_gateway_vs_direct"] = ratio(
                gw.latency["allocate"].p50_ms, direct["latency"]["p50_ms"]
            )
            row["ratio_p50_queue_vs_direct"] = ratio(
                q.latency["allocate"].p50_ms, direct["latency"]["p50_ms"]
            )
            figures["rounds"].append(row)
            d = direct["latency"]
            print(f"round {rnd + 1}:")
            print(
                f"  direct claim: p50 {d['p50_ms']} p99 {d['p99_ms']} ms, "
                f"{direct['ddb_calls_per_allocation']} DynamoDB calls/allocation "
                f"{direct['ddb_calls']}, ms/allocation by call {direct['ddb_ms_per_allocation']}"
            )
            print(
                f"  queued via gateway: p50 {gw.latency['allocate'].p50_ms} p99 "
                f"{gw.latency['allocate'].p99_ms} ms (x{row['ratio_p50_gateway_vs_direct']} "
                f"of direct); breakdown {row['gateway_c1']['breakdown']}"
            )
            print(
                f"  queued, queue target: p50 {q.latency['allocate'].p50_ms} p99 "
                f"{q.latency['allocate'].p99_ms} ms (x{row['ratio_p50_queue_vs_direct']}); "
                f"breakdown {row['queue_c1']['breakdown']}"
            )
            print(
                f"  DynamoDB calls/success (consumers, uncontended): "
                f"{row['gateway_c1']['ddb_per_success_consumers']}; SQS calls/request "
                f"{row['gateway_c1']['sqs_per_request']}"
            )
            print(
                f"  {args.concurrent} concurrent: {conflicts:g} conflicts "
                f"({row['contended']['conflicts_per_allocation']}/allocation), DynamoDB "
                f"calls/success {row['contended']['ddb_per_success_consumers']}"
            )
    save(folder, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
