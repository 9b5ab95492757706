"""The load generator: many tracks against the gateway or the requests queue, measured.

``loadgen_app`` is the ``sandbox-broker loadgen`` command; ``run_load`` is the same run as a
library call (benchmarks and the load-correctness tests use it).
"""

from producers.loadgen.cli import loadgen_app
from producers.loadgen.engine import LoadResult, Progress, run_load
from producers.loadgen.options import LoadOptions, Target
from producers.loadgen.report import RequestRecord, Summary

__all__ = [
    "LoadOptions",
    "LoadResult",
    "Progress",
    "RequestRecord",
    "Summary",
    "Target",
    "loadgen_app",
    "run_load",
]
