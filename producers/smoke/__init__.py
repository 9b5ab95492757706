"""``sandbox-broker smoke``: check a running deployment (local or AWS) against the contract.

``run_smoke`` drives the checks (``checks.py``) over HTTP and returns a ``SmokeReport``;
``cli.py`` prints it as a table or JSON and exits 0 (all conform), 1 (a check deviated,
named with its route) or 3 (unreachable).
"""

from producers.smoke.checks import run_smoke
from producers.smoke.model import (
    Outcome,
    Result,
    SmokeOptions,
    SmokeReport,
    SmokeUnreachableError,
)

__all__ = [
    "Outcome",
    "Result",
    "SmokeOptions",
    "SmokeReport",
    "SmokeUnreachableError",
    "run_smoke",
]
