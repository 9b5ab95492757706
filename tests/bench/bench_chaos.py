"""Chaos (issue 8 scenario 4): a consumer SIGKILLed every 10 s, CSP faults, DynamoDB throttling.

    python -m tests.bench chaos [--tracks 500] [--pool 800] [--kill-every 10] [--throttle 0.1]
        [--csp-error-rate 0.3] [--visibility 20]

One stack, two consumers: `up`'s own and one started here, which is SIGKILLed every
``--kill-every`` seconds and started again at once. First a calm burst of ``--tracks``
(the reference tail), then the same burst in chaos: the extra consumer killed on schedule,
``--throttle`` of DynamoDB requests answered ProvisionedThroughputExceeded by the embedded
moto, the fake CSP failing ``--csp-error-rate`` of its calls while a sync and a cleanup job
run against it. Checked: no double, every request terminal (none lost), the counts add up
(sandboxes = min(tracks, pool left)). A request that SQS dead-lettered (a consumer died
holding it on its last receive) is answered DEAD_LETTERED by the consumers' DLQ sweep: the
benchmark counts those, then replays the requests DLQ as an operator would
(`sandbox-broker dlq replay --queue requests --yes`) and waits for their real outcomes, so
"counts add up" is checked after the replay. Reported: how far the tail grew (p99 and max
against the calm burst), how many were dead-lettered. A killed consumer's in-flight
messages come back after the queue's visibility timeout (``--visibility``, 20 s by default
as provisioned): that is the floor of the grown tail.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import httpx

from producers.loadgen import run_load
from producers.loadgen.engine import LoadResult
from producers.loadgen.report import SUCCEEDED
from tests.bench.common import gateway_load, header, out_dir, parser, ratio, run, save
from tests.bench.stack import BenchStack, running_stack


def chaos_monkey(
    stack: BenchStack, *, every: float, stop: threading.Event, log: list[dict[str, Any]]
) -> None:
    """SIGKILL the newest extra consumer every ``every`` seconds and start another."""
    t0 = time.monotonic()
    while not stop.wait(every):
        victim = stack.extra[-1]
        victim.kill()
        stack.add_consumer("chaos")
        log.append({"t_s": round(time.monotonic() - t0, 1), "killed_pid": victim.process.pid})


def jobs(stack: BenchStack) -> None:
    """A sync and a cleanup against the failing CSP, while the burst runs."""
    with httpx.Client(base_url=stack.url, headers=stack.admin_headers, timeout=30) as http:
        for job in ("sync", "cleanup"):
            http.post(f"/v1/admin/{job}").raise_for_status()


def replay_dead_letters(stack: BenchStack, result: LoadResult, *, timeout_s: float) -> dict:
    """Replay the requests DLQ; wait for each dead-lettered request's real outcome.

    Returns the outcomes after the replay and the sandboxes the replayed requests got.
    """
    dead = [r for r in result.records if r.outcome == "DEAD_LETTERED" and r.request_id]
    if not dead:
        return {"dead_lettered": 0, "outcomes": {}, "sandboxes": {}}
    cmd = [sys.executable, "-m", "infra", "dlq", "replay", "--queue", "requests", "--yes"]
    done = subprocess.run(
        [*cmd, "--json"], env=stack.consumer_env(), capture_output=True, timeout=600, check=False
    )
    report = json.loads(done.stdout or b"{}") if done.stdout.strip().startswith(b"{") else {}
    finals: dict[str, dict] = {}
    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {stack.info['track_token']}"}
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        while len(finals) < len(dead) and time.monotonic() < deadline:
            for r in dead:
                if r.request_id in finals:
                    continue
                reply = http.get(
                    f"/v1/requests/{r.request_id}",
                    headers=headers | {"X-Instruqt-Sandbox-ID": r.track_id},
                ).json()
                code = (reply.get("error") or {}).get("code")
                if reply.get("status") != "pending" and code != "DEAD_LETTERED":
                    finals[r.request_id] = reply | {"track_id": r.track_id}
            if len(finals) < len(dead):
                time.sleep(1.0)  # an operator's poll, not a synchronisation stand-in
    outcomes = Counter(
        SUCCEEDED if f["status"] == "succeeded" else f["error"]["code"] for f in finals.values()
    )
    outcomes["still DEAD_LETTERED or pending"] = len(dead) - len(finals)
    return {
        "dead_lettered": len(dead),
        "replay_exit": done.returncode,
        "replayed": report.get("replayed", report),
        "outcomes": dict(outcomes),
        "sandboxes": {
            f["track_id"]: f["result"]["sandbox_id"]
            for f in finals.values()
            if f["status"] == "succeeded"
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--tracks", type=int, default=500)
    p.add_argument("--pool", type=int, default=800)
    p.add_argument("--kill-every", type=float, default=10.0)
    p.add_argument("--throttle", type=float, default=0.1)
    p.add_argument("--csp-error-rate", type=float, default=0.3)
    p.add_argument("--visibility", type=int, default=20)
    p.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    args = p.parse_args(argv)
    figures = header("chaos")
    figures.update(vars(args) | {"out": str(args.out)})
    figures["rounds"] = []
    folder = out_dir("chaos", args.out)
    failed = False
    for rnd in range(args.rounds):
        env = {"BROKER_VISIBILITY_TIMEOUT_S": str(args.visibility)}
        with running_stack(
            folder / f"stack-r{rnd}", pool_size=args.pool, consumers=1, env=env
        ) as s:
            s.add_consumer("chaos")
            calm = run(
                gateway_load(s, burst=True, requests=args.tracks, timeout_s=args.timeout),
                folder,
                f"r{rnd}-calm",
                stack=s,
            ).summary
            left = args.pool - calm.distinct_sandboxes
            s.set_throttle(args.throttle)
            s.set_csp_faults(error_rate=args.csp_error_rate)
            jobs(s)
            stop, kills = threading.Event(), []
            monkey = threading.Thread(
                target=chaos_monkey,
                args=(s,),
                kwargs={"every": args.kill_every, "stop": stop, "log": kills},
            )
            monkey.start()
            try:
                chaos_result = asyncio.run(
                    run_load(
                        gateway_load(s, burst=True, requests=args.tracks, timeout_s=args.timeout)
                    )
                )
            finally:
                stop.set()
                monkey.join()
                s.set_throttle(0)
                s.set_csp_faults()
            chaos = chaos_result.summary
            (folder / f"r{rnd}-chaos.json").write_text(chaos.model_dump_json(indent=2))
            replay = replay_dead_letters(s, chaos_result, timeout_s=args.timeout)
            print(f"dead-lettered and replayed: {json.dumps(replay, default=str)[:400]}")
        expected = min(args.tracks, left)
        first = {
            r.track_id: r.sandbox_id
            for r in chaos_result.records
            if r.outcome == SUCCEEDED and r.sandbox_id
        }
        owners = Counter([*first.values(), *replay["sandboxes"].values()])
        refused = chaos.outcomes.get("NO_SANDBOXES_AVAILABLE", 0) + replay["outcomes"].get(
            "NO_SANDBOXES_AVAILABLE", 0
        )
        ok = (
            not chaos.doubles
            and chaos.without_reply == 0
            and all(n == 1 for n in owners.values())
            and len(owners) == expected
            and refused == args.tracks - expected
        )
        failed = failed or not ok
        c_lat, k_lat = calm.latency["allocate"], chaos.latency["allocate"]
        row = {
            "correct": ok,
            "kills": len(kills),
            "calm": {"wall_s": calm.wall_s, "e2e": c_lat.model_dump()},
            "chaos": {
                "wall_s": chaos.wall_s,
                "e2e": k_lat.model_dump(),
                "outcomes": chaos.outcomes,
                "doubles": len(chaos.doubles),
                "without_reply": chaos.without_reply,
                "distinct": chaos.distinct_sandboxes,
                "expected_distinct": expected,
            },
            "dead_lettered": replay["dead_lettered"],
            "after_replay": {
                "outcomes": replay["outcomes"],
                "distinct": len(owners),
                "doubles": sum(1 for n in owners.values() if n > 1),
            },
            "tail_growth_p99": ratio(k_lat.p99_ms, c_lat.p99_ms),
            "tail_growth_max_s": round(((k_lat.max_ms or 0) - (c_lat.max_ms or 0)) / 1000, 1),
        }
        figures["rounds"].append(row)
        print(
            f"round {rnd + 1}: {len(kills)} kills; calm p99 {c_lat.p99_ms} max {c_lat.max_ms} ms,"
            f" wall {calm.wall_s} s; chaos p99 {k_lat.p99_ms} max {k_lat.max_ms} ms, wall "
            f"{chaos.wall_s} s (p99 x{row['tail_growth_p99']}); outcomes {chaos.outcomes}; "
            f"doubles {len(chaos.doubles)}, without reply {chaos.without_reply}, "
            f"distinct {chaos.distinct_sandboxes}/{expected}; dead-lettered "
            f"{replay['dead_lettered']}, after replay {len(owners)}/{expected} distinct, "
            f"{refused} refused -> correct={ok}"
        )
    save(folder, figures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
