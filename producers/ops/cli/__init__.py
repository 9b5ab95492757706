"""Operator commands (typer + rich): ``dlq``, ``pool``, ``jobs``, ``tenants`` and ``status``.

One module per command group; ``output`` (tables, JSON) and ``runner`` (settings, clients,
failures as one line and an exit code) serve them all. The CLI root (``infra/cli.py``)
mounts ``dlq_app``, ``pool_app``, ``jobs_app`` and the ``status`` command; ``python -m
producers.ops.cli`` runs them standalone. Exit codes: ``producers.exits``.
"""

from __future__ import annotations

import typer

from producers.ops.cli import dlq_purge as _dlq_purge  # noqa: F401  (registers `dlq purge`)
from producers.ops.cli import history as _history  # noqa: F401  (registers `pool history`)
from producers.ops.cli import operator as _operator  # noqa: F401  (registers the pool verbs)
from producers.ops.cli.dlq import dlq_app
from producers.ops.cli.jobs import jobs_app
from producers.ops.cli.pool import pool_app
from producers.ops.cli.status import render_status, status
from producers.ops.cli.tenants import tenants_app

__all__ = ["app", "dlq_app", "jobs_app", "pool_app", "render_status", "status", "tenants_app"]

app = typer.Typer(
    name="sandbox-broker-ops",
    help="Operator commands of the sandbox broker (mounted by `sandbox-broker`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(dlq_app, name="dlq")
app.add_typer(pool_app, name="pool")
app.add_typer(jobs_app, name="jobs")
app.add_typer(tenants_app, name="tenants")
app.command("status")(status)
