"""Cleanup fan-out vs a sequential loop; DynamoDB read units per sync (issue 5 benchmark).

    python -m tests.bench cleanup [--n 1000] [--latency-ms 50] [--workers 16] [--consumers 1]

One stack whose fake CSP answers every DELETE after ``--latency-ms``. Twice ``--n``
sandboxes are made pending_deletion (the second half is imported by a second sync), then:
- fan-out: ``POST /v1/admin/cleanup``; the cleanup job publishes one delete_sandbox message
  per sandbox and the consumers (``--workers`` handlers each) delete in parallel. Wall time
  from the POST until the pool holds no pending_deletion item.
- sequential: the same per-sandbox work (JobService.delete_sandbox: GetItem, CSP DELETE,
  conditional DeleteItem, with the consumers' CSP client) in a plain loop in this process.
The consumers' CSP rate limit is raised (BROKER_CSP_RATE_PER_S=500) so that the limiter
does not set the pace of either. Goal: fan-out >= 6x faster with 16 workers.

Read units per sync of ``--n`` accounts: moto does not report consumed capacity, so they
are computed. A sync reads only through StatusIndex Queries (pages of 100, one series per
status); each page costs ceil(bytes / 4 KiB) x 0.5 RCU (a GSI read is eventually
consistent), where bytes is the sum of the returned items' sizes by DynamoDB's rules
(attribute name lengths + value sizes; the index projects ALL). The pages are re-read here
with the same Query to size them; the server-side Query count confirms the page count.
"""

from __future__ import annotations

import asyncio
import math
import time
from decimal import Decimal
from typing import Any

import boto3
import httpx
from aiobotocore.session import get_session
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumers.csp.client import CspClient, csp_http_client
from consumers.csp.errors import CspError
from consumers.services.jobs import JobService, JobSettings
from consumers.stores.pool import PoolStore
from consumers.stores.replies import ReplyStore
from schemas.messages import DeleteSandboxJob
from schemas.names import ResourceNames
from schemas.pool import STATUS_INDEX, SandboxStatus
from schemas.settings import ConsumerSettings
from tests.bench.common import header, out_dir, parser, ratio, save
from tests.bench.stack import BenchStack, running_stack, wait_for

RCU_BYTES = 4096


def attr_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value by DynamoDB's item size rules."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = len(str(Decimal(v)).replace("-", "").replace(".", "").lstrip("0")) or 1
        return 1 + math.ceil(digits / 2)
    if kind == "B":
        return len(v)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attr_size(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(1 + attr_size(x) for x in v)
    if kind in {"SS", "NS", "BS"}:
        return sum(attr_size({kind[0]: x}) for x in v)
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + attr_size(v) for k, v in item.items())


def sync_read_units(ddb: Any, table: str) -> dict[str, Any]:
    """The RCUs of a sync's reads: every StatusIndex page of every status, sized."""
    pages = rcu = items = size = 0
    for status in SandboxStatus:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status.value}},
            "Limit": 100,  # PoolStore.query_status's page size
        }
        while True:
            resp = ddb.query(**kwargs)
            page = sum(item_size(i) for i in resp["Items"])
            pages += 1
            items += len(resp["Items"])
            size += page
            rcu += max(1, math.ceil(page / RCU_BYTES)) * 0.5
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return {
        "query_pages": pages,
        "items": items,
        "mean_item_bytes": round(size / max(items, 1), 1),
        "rcu": rcu,
    }


#: Items the consumers removed after a CSP delete (delete_sandbox jobs), summed over them.
DELETED_METRIC = "broker_cleanup_deleted_total"


def pending(ddb: Any, table: str) -> int:
    resp = ddb.query(
        TableName=table,
        IndexName=STATUS_INDEX,
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": SandboxStatus.PENDING_DELETION.value}},
        Select="COUNT",
    )
    return int(resp["Count"])


def mark_all_pending(ddb: Any, table: str) -> int:
    """Bench set-up: every available sandbox → pending_deletion (as releases would leave it)."""
    ids = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": STATUS_INDEX,
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": SandboxStatus.AVAILABLE.value}},
    }
    while True:
        resp = ddb.query(**kwargs)
        ids += [i["sandbox_id"]["S"] for i in resp["Items"]]
        if "LastEvaluatedKey" not in resp:
            break
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    now = str(time.time())
    for sid in ids:
        ddb.update_item(
            TableName=table,
            Key={"PK": {"S": f"SBX#{sid}"}, "SK": {"S": "META"}},
            UpdateExpression="SET #s = :pd, deletion_requested_at = :now, allocated_to_track = :t",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":pd": {"S": SandboxStatus.PENDING_DELETION.value},
                ":now": {"N": now},
                ":t": {"S": "bench-cleanup"},
            },
        )
    return len(ids)


def admin_job(stack: BenchStack, job: str, timeout: float = 600) -> dict[str, Any]:
    """Enqueue a job through the admin API and wait for its reply."""
    with httpx.Client(base_url=stack.url, headers=stack.admin_headers, timeout=30) as http:
        request_id = http.post(f"/v1/admin/{job}").json()["request_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = http.get(f"/v1/requests/{request_id}").json()
            if reply["status"] != "pending":
                return reply
            time.sleep(0.2)
    raise TimeoutError(f"{job} did not answer within {timeout:g}s")


async def sequential_loop(stack: BenchStack, names: ResourceNames) -> int:
    """The same per-sandbox work as the fan-out, one sandbox after another."""
    settings = ConsumerSettings(
        aws_endpoint_url=stack.moto,
        name_prefix=stack.info["name_prefix"],
        csp_base_url=stack.info["csp_url"],
        csp_token=SecretStr(stack.env["BROKER_CSP_TOKEN"]),
        csp_rate_per_s=500,
    )
    async with (
        get_session().create_client(
            "dynamodb",
            endpoint_url=stack.moto,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ) as ddb,
        csp_http_client(settings) as http,
    ):
        replies = ReplyStore(ddb, table=names.replies_table)
        pool = PoolStore(ddb, table=names.pool_table, replies=replies)
        jobs = JobService(
            pool,
            csp=CspClient.from_settings(settings, http=http, registry=CollectorRegistry()),
            upstream_errors=(CspError,),
            settings=JobSettings(
                expiry_after_s=settings.expiry_after_s,
                stale_grace_s=settings.stale_grace_s,
                max_deletion_retries=settings.max_deletion_retries,
            ),
        )
        targets = [s async for s in pool.query_status(SandboxStatus.PENDING_DELETION)]
        done = 0
        for n, sandbox in enumerate(targets):
            job = DeleteSandboxJob(
                request_id=f"seq_{n:06d}", sandbox_id=sandbox.sandbox_id, requested_by="admin"
            )
            outcome = await jobs.delete_sandbox(job, attempt=1)
            done += outcome.result.changed
        return done


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--latency-ms", type=int, default=50)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--consumers", type=int, default=1)
    args = p.parse_args(argv)
    figures = header("cleanup")
    figures.update(n=args.n, latency_ms=args.latency_ms, workers=args.workers, rounds=[])
    folder = out_dir("cleanup", args.out)
    env = {"BROKER_CSP_RATE_PER_S": "500", "BROKER_MAX_WORKERS": str(args.workers)}
    for rnd in range(args.rounds):
        with running_stack(
            folder / f"stack-r{rnd}", pool_size=args.n, consumers=args.consumers, env=env
        ) as s:
            names = ResourceNames.with_prefix(s.info["name_prefix"])
            ddb = boto3.client(
                "dynamodb",
                endpoint_url=s.moto,
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
            row: dict[str, Any] = {}
            # RCUs of a steady-state sync of n accounts (nothing to change)
            before = s.moto_calls()
            reply = admin_job(s, "sync")
            after = s.moto_calls()
            calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            row["sync"] = {
                "reply": reply.get("result"),
                "server_calls": {k: v for k, v in calls.items() if k.startswith("DynamoDB") and v},
                **sync_read_units(ddb, names.pool_table),
            }
            # sequential: the first n, in a loop here
            assert mark_all_pending(ddb, names.pool_table) == args.n
            s.set_csp_faults(latency_ms=args.latency_ms)
            started = time.monotonic()
            deleted = asyncio.run(sequential_loop(s, names))
            seq_s = time.monotonic() - started
            s.set_csp_faults()
            # fan-out: n more accounts in the CSP, imported by a sync, then cleanup
            httpx.post(s.csp_admin + "/_accounts", json={"n": args.n}, timeout=30)
            admin_job(s, "sync")
            assert mark_all_pending(ddb, names.pool_table) == args.n
            s.set_csp_faults(latency_ms=args.latency_ms)
            deleted_before = s.metrics().get(DELETED_METRIC, 0.0)
            started = time.monotonic()
            admin_job(s, "cleanup")
            # Watch the consumers' counter, not the table: a StatusIndex Query costs moto a
            # scan and deep copy of every item, and polling it four times a second took a
            # fifth of the serialised DynamoDB time the fan-out itself needs.
            wait_for(
                lambda: s.metrics().get(DELETED_METRIC, 0.0) - deleted_before >= args.n,  # noqa: B023
                timeout=1800,
                what="the fan-out to delete every sandbox",
                interval=0.25,
            )
            fan_s = time.monotonic() - started
            assert pending(ddb, names.pool_table) == 0, "deleted by count but still pending"
            s.set_csp_faults()
            stats = s.csp_stats()
        row.update(
            sequential_s=round(seq_s, 2),
            sequential_deleted=deleted,
            fanout_s=round(fan_s, 2),
            speedup=ratio(seq_s, fan_s),
            csp_max_in_flight=stats.get("max_in_flight"),
        )
        figures["rounds"].append(row)
        print(
            f"round {rnd + 1}: {args.n} deletes at {args.latency_ms} ms: sequential "
            f"{row['sequential_s']} s, fan-out {row['fanout_s']} s -> x{row['speedup']} "
            f"(CSP saw up to {row['csp_max_in_flight']} at once); sync of {args.n} accounts: "
            f"{row['sync']['query_pages']} Query pages, {row['sync']['rcu']} RCU "
            f"(mean item {row['sync']['mean_item_bytes']} B), server-side "
            f"{row['sync']['server_calls']}"
        )
    save(folder, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
