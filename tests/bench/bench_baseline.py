"""Seed baseline (issue 8 scenario 1; issue 4 at 200 requests/min): the old system's load test.

    python -m tests.bench baseline [--minutes 1] [--full] [--rate 200/min] [--rounds 2]

Open loop through the gateway at 200 allocations a minute, each from its own track, on one
consumer; the pool is sized so it never runs dry. The default runs 1 minute; ``--full``
runs the seeds' 3 minutes. Reported: end-to-end p50/p95/p99/max as the track client sees
it (first poll after 100 ms, doubling to 1 s), the reply-written latency (no poll wait),
and API calls per request. DESIGN target for one allocation: p50 <= 150 ms, p99 <= 300 ms.
"""

from __future__ import annotations

import math

from producers.loadgen.options import parse_rate
from tests.bench.common import gateway_load, header, out_dir, parser, run, save
from tests.bench.stack import running_stack


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--full", action="store_true", help="the seeds' 3 minutes")
    p.add_argument("--rate", default="200/min")
    p.add_argument("--consumers", type=int, default=1)
    args = p.parse_args(argv)
    minutes = 3.0 if args.full else args.minutes
    per_s = parse_rate(args.rate)
    assert per_s is not None
    requests = math.ceil(per_s * minutes * 60)
    figures = header("baseline")
    figures.update(minutes=minutes, rate_per_s=per_s, requests=requests, rounds=[])
    folder = out_dir("baseline", args.out)
    with running_stack(
        folder / "stack", pool_size=requests * args.rounds + 20, consumers=args.consumers
    ) as s:
        for rnd in range(args.rounds):
            result = run(
                gateway_load(
                    s, rate=per_s, requests=requests, duration_s=minutes * 60, timeout_s=60
                ),
                folder,
                f"r{rnd}",
                stack=s,
            )
            sm = result.summary
            lat, written = sm.latency["allocate"], sm.reply_written["allocate"]
            sc = sm.server_calls
            figures["rounds"].append(
                {
                    "e2e": lat.model_dump(),
                    "reply_written": written.model_dump(),
                    "outcomes": sm.outcomes,
                    "without_reply": sm.without_reply,
                    "doubles": len(sm.doubles),
                    "client_calls_per_request": sm.client_calls.per_request,
                    "sqs_per_request": sc.sqs_per_request if sc else None,
                    "ddb_per_success_consumers": sc.dynamodb_without_loadgen_per_success
                    if sc
                    else None,
                    "server_calls": sc.by_action.calls if sc else None,
                }
            )
            print(
                f"round {rnd + 1}: e2e p50 {lat.p50_ms} p99 {lat.p99_ms} ms; reply written p50 "
                f"{written.p50_ms} p99 {written.p99_ms} ms; SQS/request "
                f"{sc.sqs_per_request if sc else 'n/a'}; DynamoDB/success (consumers) "
                f"{sc.dynamodb_without_loadgen_per_success if sc else 'n/a'}"
            )
    save(folder, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
