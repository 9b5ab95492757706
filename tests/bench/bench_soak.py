"""Soak (issue 15): a steady rate with releases for a long while, the scheduled jobs running.

    python -m tests.bench soak [--minutes 30] [--rate 20] [--pool 3000] [--consumers 1]
        [--tracks 400] [--job-interval 30] [--sample-every 10] [--warmup-minutes 5]

One stack with its scheduler on (sync, cleanup and expire every ``--job-interval``
seconds), an open loop of allocations through the gateway, each released by its track as
soon as it succeeded. The fake CSP gets a new account for every one the cleanup deleted
(as the CSP re-provisions), so the next sync keeps the pool at its size. Every
``--sample-every`` seconds: the RSS of each process and the depth (visible + in flight) of
the requests and jobs queues.

Checked: 0 errors (every allocation and release succeeded), 0 unanswered; after the
warm-up, every broker process's RSS grows by less than 20 MB (moto is reported, not
checked: it is the embedded store and holds every reply row written), and the queues stay
bounded (no upward trend: the depth's peak in the second half after the warm-up is at
most the first half's plus ten seconds of traffic — a cleanup fans out hundreds of
deletes at once, so the depth has peaks by design).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import httpx

from tests.bench.common import gateway_load, header, out_dir, parser, run, save
from tests.bench.stack import BenchStack, rss_mb, running_stack, stack_pids

#: Growth allowed per process after the warm-up (issue 15).
RSS_GROWTH_LIMIT_MB = 20.0
#: Processes whose memory holds the data itself (the embedded store): reported only.
NOT_CHECKED = frozenset({"moto"})


def sampler(
    stack: BenchStack, *, every: float, stop: threading.Event, samples: list[dict[str, Any]]
) -> None:
    """RSS per process and queue depths every ``every`` seconds; tops the CSP up."""
    pids = stack_pids(stack)
    pool = stack.csp_stats()["accounts"]
    t0 = time.monotonic()
    while not stop.wait(every):
        row: dict[str, Any] = {"t_s": round(time.monotonic() - t0, 1)}
        row["rss_mb"] = {role: rss_mb(pid) for role, pid in pids.items()}
        try:
            row["requests_depth"] = stack.queue_depth("sandbox-requests.fifo")
            row["jobs_depth"] = stack.queue_depth("sandbox-jobs.fifo")
            missing = pool - stack.csp_stats()["accounts"]
            if missing > 0:  # the CSP re-provisions what was deleted
                httpx.post(
                    stack.csp_admin + "/_accounts", json={"n": missing}, timeout=10
                ).raise_for_status()
            row["csp_added"] = max(missing, 0)
        except (httpx.HTTPError, OSError) as exc:
            row["error"] = repr(exc)[:200]
        samples.append(row)


def memory_growth(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, float | None]:
    """Per process: the largest RSS after the warm-up minus the RSS at its end."""
    after = [s for s in samples if s["t_s"] >= warmup_s]
    if not after:
        return {}
    base = after[0]["rss_mb"]
    growth: dict[str, float | None] = {}
    for role, start in base.items():
        seen = [s["rss_mb"].get(role) for s in after if s["rss_mb"].get(role) is not None]
        growth[role] = round(max(seen) - start, 1) if seen and start is not None else None
    return growth


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=20.0, help="allocations per second")
    p.add_argument("--pool", type=int, default=3000)
    p.add_argument("--consumers", type=int, default=1)
    p.add_argument("--tracks", type=int, default=400, help="distinct tracks, reused in turn")
    p.add_argument("--job-interval", type=int, default=30, help="sync/cleanup/expire, seconds")
    p.add_argument("--sample-every", type=float, default=10.0)
    p.add_argument("--warmup-minutes", type=float, default=5.0)
    args = p.parse_args(argv)
    duration_s = args.minutes * 60
    warmup_s = min(args.warmup_minutes * 60, duration_s / 2)
    requests = math.ceil(args.rate * duration_s)
    figures = header("soak")
    figures.update(minutes=args.minutes, rate_per_s=args.rate, pool=args.pool, warmup_s=warmup_s)
    folder = out_dir("soak", args.out)
    interval = str(args.job_interval)
    env = {
        "BROKER_SYNC_INTERVAL_S": interval,
        "BROKER_CLEANUP_INTERVAL_S": interval,
        "BROKER_EXPIRE_INTERVAL_S": interval,
        "BROKER_CSP_RATE_PER_S": "200",
    }
    samples: list[dict[str, Any]] = []
    with running_stack(
        folder / "stack", pool_size=args.pool, consumers=args.consumers, env=env, scheduler=True
    ) as s:
        stop = threading.Event()
        thread = threading.Thread(
            target=sampler,
            args=(s,),
            kwargs={"every": args.sample_every, "stop": stop, "samples": samples},
            daemon=True,
        )
        thread.start()
        try:
            result = run(
                gateway_load(
                    s,
                    rate=args.rate,
                    requests=requests,
                    duration_s=duration_s + 60,
                    tracks=args.tracks,
                    release=True,
                    timeout_s=60,
                ),
                folder,
                "soak",
                stack=s,
            )
        finally:
            stop.set()
            thread.join(timeout=30)
        jobs = s.metrics()
    sm = result.summary
    growth = memory_growth(samples, warmup_s)
    after = [x.get("requests_depth", 0) + x.get("jobs_depth", 0) for x in samples]
    after = after[len([x for x in samples if x["t_s"] < warmup_s]) :]
    half = len(after) // 2
    depth_max = max(after, default=0)
    # bounded: no upward trend (cleanup fans out hundreds of deletes at once, so the
    # depth has peaks): the second half's peak within the first half's plus 10 s of traffic
    depth_bound = max(after[:half], default=0) + args.rate * 10
    depth_late = max(after[half:], default=0)
    errors = {k: v for k, v in sm.outcomes.items() if k != "succeeded"}
    checks = {
        "no_errors": not errors,
        "all_answered": sm.without_reply == 0,
        "no_doubles": not sm.doubles,
        "rss_flat": all(
            g is not None and g < RSS_GROWTH_LIMIT_MB
            for role, g in growth.items()
            if role not in NOT_CHECKED
        ),
        "queues_bounded": depth_late <= depth_bound,
    }
    job_series = ("broker_sync_total", "broker_cleanup_total", "broker_expiry_total")
    finished = {k: v for k, v in jobs.items() if k.startswith(job_series)}
    figures.update(
        requests=sm.requests,
        outcomes=sm.outcomes,
        without_reply=sm.without_reply,
        doubles=len(sm.doubles),
        latency={k: v.model_dump() for k, v in sm.latency.items()},
        rss_growth_after_warmup_mb=growth,
        queue_depth_max_after_warmup=depth_max,
        queue_depth_late_max=depth_late,
        queue_depth_bound=depth_bound,
        jobs_finished=finished,
        checks=checks,
        samples=samples,
    )
    save(folder, figures)
    print(f"  outcomes {sm.outcomes}, without reply {sm.without_reply}")
    print(f"  RSS growth after the warm-up (MB): {growth}")
    print(
        f"  queue depth after the warm-up: max {depth_max}; second half's max {depth_late} "
        f"(bound {depth_bound:g})"
    )
    print(f"  jobs finished: {finished}")
    print(f"  checks: {checks}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
