"""Poison mix (issue 8 scenario 5): 1% malformed messages during a burst, straight on the queue.

    python -m tests.bench poison [--tracks 1000] [--poison-rate 0.01] [--consumers 2]

The gateway refuses malformed input, so the burst goes straight onto the requests queue.
Before every 100th track's allocate, a malformed message is sent in the same group (in
turn: not JSON; an unknown type; an allocate without track_id). Checked: each poison
message ends in the DLQ, those carrying a request_id are answered INVALID_REQUEST, every
good request (the poisoned groups' ones included) succeeds, no double, none unanswered.
Reported beside a clean burst of the same size in the same run: wall time and p99, so a
stalled group would show as a grown tail.
"""

from __future__ import annotations

import time

from schemas.names import REQUESTS_DLQ
from tests.bench.common import header, out_dir, parser, queue_load, run, save
from tests.bench.stack import running_stack


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--tracks", type=int, default=1000)
    p.add_argument("--poison-rate", type=float, default=0.01)
    p.add_argument("--consumers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=300.0)
    args = p.parse_args(argv)
    figures = header("poison")
    figures["rounds"] = []
    folder = out_dir("poison", args.out)
    failed = False
    for rnd in range(args.rounds):
        with running_stack(
            folder / f"stack-r{rnd}", pool_size=2 * args.tracks, consumers=args.consumers
        ) as s:
            clean = run(
                queue_load(s, burst=True, requests=args.tracks, timeout_s=args.timeout),
                folder,
                f"r{rnd}-clean",
                stack=s,
            ).summary
            mixed = run(
                queue_load(
                    s,
                    burst=True,
                    requests=args.tracks,
                    timeout_s=args.timeout,
                    poison_rate=args.poison_rate,
                ),
                folder,
                f"r{rnd}-poison",
                stack=s,
            ).summary
            # The last poison message may still be on its way to the DLQ: wait for it.
            deadline = time.monotonic() + 60
            dlq = mixed.dlq_messages or 0
            while dlq < mixed.poison and time.monotonic() < deadline:
                time.sleep(0.5)
                dlq = s.queue_depth(REQUESTS_DLQ)
        answered = mixed.outcomes.get("INVALID_REQUEST", 0)
        expected_answered = mixed.poison - mixed.outcomes.get("UNANSWERABLE", 0)
        ok = (
            dlq == mixed.poison
            and answered == expected_answered
            and mixed.outcomes.get("succeeded", 0) == args.tracks
            and not mixed.doubles
            and mixed.without_reply == 0
        )
        failed = failed or not ok
        row = {
            "correct": ok,
            "poison": mixed.poison,
            "dlq": dlq,
            "invalid_request_replies": answered,
            "clean": {"wall_s": clean.wall_s, "e2e": clean.latency["allocate"].model_dump()},
            "poison_run": {
                "wall_s": mixed.wall_s,
                "e2e": mixed.latency["allocate"].model_dump(),
                "outcomes": mixed.outcomes,
            },
        }
        figures["rounds"].append(row)
        print(
            f"round {rnd + 1}: {mixed.poison} poison -> {dlq} in the DLQ, {answered} "
            f"INVALID_REQUEST replies (expected {expected_answered}); good: "
            f"{mixed.outcomes.get('succeeded', 0)}/{args.tracks} succeeded; clean wall "
            f"{clean.wall_s} s p99 {clean.latency['allocate'].p99_ms} ms, poison wall "
            f"{mixed.wall_s} s p99 {mixed.latency['allocate'].p99_ms} ms -> correct={ok}"
        )
    save(folder, figures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
