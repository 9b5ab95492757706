"""``python -m tests.bench [NAME [ARGS...]]``: list the benchmarks, or run one.

Each benchmark prints its figures (with the command, the date and the load average) and
writes JSON and a plot under $TMPDIR/sandbox-broker-bench/. ``NAME --help`` shows its
options; the defaults fit a 2-core machine and finish in minutes.
"""

from __future__ import annotations

import importlib
import inspect
import runpy
import sys

#: name -> (module, what it measures)
BENCHMARKS = {
    "broker": ("tests.bench.bench_broker", "SQSBroker vs a raw aiobotocore loop (issue 3)"),
    "baseline": ("tests.bench.bench_baseline", "200 allocations/min, p50/p99 (scenario 1)"),
    "rate": ("tests.bench.bench_rate", "latency by offered rate, highest sustainable (issue 4)"),
    "burst": ("tests.bench.bench_burst", "1,000 tracks vs 800, 1/2/4 consumers (scenarios 2, 3)"),
    "chaos": ("tests.bench.bench_chaos", "SIGKILLed consumer, CSP faults, throttling (4)"),
    "poison": ("tests.bench.bench_poison", "1% malformed messages during a burst (5)"),
    "overhead": ("tests.bench.bench_overhead", "direct claim vs the queued path; calls (6, 4)"),
    "cleanup": ("tests.bench.bench_cleanup", "cleanup fan-out vs a loop; RCUs per sync (5)"),
    "moto": ("tests.bench.bench_moto", "moto's TransactWriteItems cost by table size"),
    "soak": ("tests.bench.bench_soak", "steady rate with releases and jobs: RSS, queues (15)"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "list"}:
        print(__doc__)
        for name, (_, what) in BENCHMARKS.items():
            print(f"  {name:<10} {what}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; one of: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    module_name = BENCHMARKS[name][0]
    module = importlib.import_module(module_name)
    entry = getattr(module, "main", None)
    if entry is not None and not inspect.iscoroutinefunction(entry):
        return int(entry(rest) or 0)
    # A benchmark without a main(argv) function runs as a script, with its own argv.
    sys.modules.pop(module_name, None)  # runpy runs a fresh copy as __main__
    sys.argv = [module_name, *rest]
    runpy.run_module(module_name, run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
