"""Latency by offered rate and the highest sustainable rate (issue 4; DESIGN ">= 100/s").

    python -m tests.bench rate [--rates 2,4,8,16,32,64,128] [--step 15] [--consumers 1]

On one stack, open-loop steps at rising rates through the gateway, each for ``--step``
seconds. A step is sustainable when every request was answered, the answers kept up with
the offer (throughput >= 90% of the rate) and p99 stayed <= 2 s. It stops after the
first step that is not. The pool is sized for every step.
"""

from __future__ import annotations

import math

from tests.bench.common import gateway_load, header, out_dir, parser, run, save
from tests.bench.stack import running_stack

P99_LIMIT_MS = 2000.0


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--rates", default="2,4,8,16,32,64,128", help="requests/s, comma-separated")
    p.add_argument("--step", type=float, default=15.0, help="seconds per rate")
    p.add_argument("--consumers", type=int, default=1)
    args = p.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    pool = sum(math.ceil(r * args.step) for r in rates) + 20
    figures = header("rate")
    figures.update(step_s=args.step, consumers=args.consumers, steps=[])
    folder = out_dir("rate", args.out)
    best = None
    with running_stack(folder / "stack", pool_size=pool, consumers=args.consumers) as s:
        for rate in rates:
            requests = math.ceil(rate * args.step)
            result = run(
                gateway_load(s, rate=rate, requests=requests, duration_s=args.step, timeout_s=60),
                folder,
                f"rate-{rate:g}",
                stack=s,
            )
            sm = result.summary
            lat = sm.latency["allocate"]
            # answered per second over the offered window (the last replies may trail it)
            achieved = round(sm.terminal / max(sm.wall_s, args.step), 2)
            ok = (
                sm.without_reply == 0
                and achieved >= 0.9 * rate
                and (lat.p99_ms or math.inf) <= P99_LIMIT_MS
            )
            figures["steps"].append(
                {
                    "rate": rate,
                    "achieved_per_s": achieved,
                    "sustainable": ok,
                    "e2e": lat.model_dump(),
                    "reply_written": sm.reply_written["allocate"].model_dump(),
                    "outcomes": sm.outcomes,
                    "doubles": len(sm.doubles),
                }
            )
            print(
                f"  rate {rate:g}/s: achieved {achieved}/s, p50 {lat.p50_ms} p99 {lat.p99_ms}"
                f" ms -> {'sustainable' if ok else 'NOT sustainable'}"
            )
            if not ok:
                break
            best = rate
    figures["highest_sustainable_per_s"] = best
    print(f"highest sustainable rate: {best}/s (p99 <= {P99_LIMIT_MS:g} ms, >= 90% kept up)")
    save(folder, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
