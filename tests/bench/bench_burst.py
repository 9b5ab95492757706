"""Burst and scale-out (issue 8, scenarios 2 and 3): N tracks at once against a smaller pool.

    python -m tests.bench burst [--tracks 1000] [--pool 800] [--consumers 1,2,4] [--rounds 1]
        [--latency aws]

For each consumer count, a fresh `sandbox-broker up` with the pool, then every track asks
through the gateway at the same moment. Checked: exactly `pool` distinct sandboxes,
`tracks - pool` NO_SANDBOXES_AVAILABLE, no double, no request without a reply. Measured:
wall time (first POST to last reply seen), end-to-end p50/p99, throughput, and the
throughput ratio of each consumer count to the first one in the same round, the CPU
seconds of each role (consumers, `up`, moto, this load generator) and the consumers' CPU
per request, and the server-side calls of the run. ``--latency aws`` makes the embedded
moto answer with AWS-like latency (``infra/embedded/moto.py`` ``AWS_LATENCY_MS``).
DESIGN target: <= 10 s and p99 <= 2 s for 1,000 vs 800; 1 -> 2 consumers >= 1.6x.
"""

from __future__ import annotations

from tests.bench.common import gateway_load, header, out_dir, parser, ratio, run, save
from tests.bench.stack import cpu_delta, cpu_snapshot, running_stack


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--tracks", type=int, default=1000)
    p.add_argument("--pool", type=int, default=800)
    p.add_argument("--consumers", default="1,2,4", help="comma-separated consumer counts")
    p.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    p.add_argument(
        "--latency",
        choices=["aws"],
        default=None,
        help="inject AWS-like service latency into the embedded moto (off by default)",
    )
    args = p.parse_args(argv)
    counts = [int(c) for c in args.consumers.split(",")]
    figures = header("burst")
    folder = out_dir("burst", args.out)
    figures["rounds"] = []
    failed = False
    for rnd in range(args.rounds):
        row = {}
        for n in counts:
            with running_stack(
                folder / f"stack-r{rnd}-c{n}", pool_size=args.pool, consumers=n
            ) as s:
                if args.latency:
                    s.set_latency(args.latency)
                cpu_before, calls_before = cpu_snapshot(s), s.moto_calls()
                result = run(
                    gateway_load(s, burst=True, requests=args.tracks, timeout_s=args.timeout),
                    folder,
                    f"r{rnd}-c{n}",
                    stack=s,
                )
                cpu = cpu_delta(cpu_before, cpu_snapshot(s))
                calls = {
                    k: v - calls_before.get(k, 0)
                    for k, v in s.moto_calls().items()
                    if isinstance(v, int) and v != calls_before.get(k, 0)
                }
            sm = result.summary
            lat = sm.latency["allocate"]
            ok = (
                sm.distinct_sandboxes == min(args.pool, args.tracks)
                and sm.outcomes.get("NO_SANDBOXES_AVAILABLE", 0) == max(args.tracks - args.pool, 0)
                and not sm.doubles
                and sm.without_reply == 0
            )
            failed = failed or not ok
            row[n] = {
                "consumers": n,
                "correct": ok,
                "wall_s": sm.wall_s,
                "throughput_per_s": sm.throughput_per_s,
                "p50_ms": lat.p50_ms,
                "p95_ms": lat.p95_ms,
                "p99_ms": lat.p99_ms,
                "max_ms": lat.max_ms,
                "distinct": sm.distinct_sandboxes,
                "outcomes": sm.outcomes,
                "doubles": len(sm.doubles),
                "without_reply": sm.without_reply,
                "sqs_per_request": sm.server_calls.sqs_per_request if sm.server_calls else None,
                "ddb_per_success": sm.server_calls.dynamodb_without_loadgen_per_success
                if sm.server_calls
                else None,
                "cpu_s": cpu,
                "consumer_cpu_ms_per_request": round(cpu["consumer"] * 1000 / args.tracks, 2),
                "server_calls_total": calls,
            }
        first = row[counts[0]]["throughput_per_s"]
        for n in counts:
            row[n]["ratio_to_first"] = ratio(row[n]["throughput_per_s"], first)
        figures["rounds"].append(row)
        print(f"round {rnd + 1}:")
        for n in counts:
            r = row[n]
            print(
                f"  {n} consumer(s): wall {r['wall_s']} s, {r['throughput_per_s']}/s "
                f"(x{r['ratio_to_first']}), p50 {r['p50_ms']} p99 {r['p99_ms']} ms, "
                f"correct={r['correct']}\n"
                f"    CPU s {r['cpu_s']}: consumer {r['consumer_cpu_ms_per_request']} ms/request; "
                f"DynamoDB/success (consumers) {r['ddb_per_success']}"
            )
    save(folder, figures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
