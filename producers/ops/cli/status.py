"""``status``: one screen an operator looks at first — pool, queues, DLQs, last job runs."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table

from producers.ops.cli.output import JsonOpt, age, out, print_json, reflowed
from producers.ops.cli.pool import pool_table as render_pool
from producers.ops.cli.runner import load_settings, run
from producers.ops.status import StatusReport, collect_status


@reflowed
def status(as_json: JsonOpt = False) -> None:
    """One screen: pool by status, quarantined sandboxes and why, queue and DLQ depths,
    the last scheduled job runs.

    Queue ages appear where the endpoint reports them (AWS publishes the age of the oldest
    message to CloudWatch only). Job runs are the replies of each job's current and
    previous scheduler bucket.

    Examples:

      sandbox-broker status

      sandbox-broker status --json | jq '.queues[] | select(.queue | endswith("DLQ"))'
    """
    settings = load_settings()
    report = run(settings, lambda c: collect_status(c.sqs, c.ddb, settings=settings))
    if as_json:
        print_json(report.as_dict())
        return
    out.print(render_status(report))


def render_status(report: StatusReport) -> Group:
    """Pool, queues and job runs stacked: fits an 80-column terminal."""
    queues = Table(
        "queue", "visible", "in flight", "delayed", "oldest", title="queues", box=box.SIMPLE_HEAD
    )
    for q in report.queues:
        d = q.depth
        if d is None:
            queues.add_row(q.label, "[red]missing[/]", "", "", "")
            continue
        style = "red" if q.label.endswith("DLQ") and d.total else None
        queues.add_row(
            q.label,
            str(d.visible),
            str(d.in_flight),
            str(d.delayed),
            age(d.oldest_age_s),
            style=style,
        )
    runs = Table(
        "job", "every", "status", "finished", "outcome", title="scheduled jobs", box=box.SIMPLE_HEAD
    )
    for j in report.jobs:
        r = j.reply
        if r is None:
            runs.add_row(j.job, age(j.interval_s), "-", "-", "no reply in the last 2 intervals")
            continue
        outcome = (
            ", ".join(f"{k} {v}" for k, v in (r.result or {}).items())
            if r.error is None
            else f"{r.error.code.value}: {r.error.message}"
        )
        runs.add_row(
            j.job,
            age(j.interval_s),
            r.status.value,
            age(report.taken_at - r.completed_at) + " ago" if r.completed_at else "-",
            outcome,
            style="red" if r.status.value == "failed" else None,
        )
    pool_table = render_pool(report.pool)
    pool_table.box = box.SIMPLE_HEAD
    tenants = Table("tenant", "allocated", "max_active", title="tenants", box=box.SIMPLE_HEAD)
    for name, usage in sorted(report.pool.by_tenant.items()):
        limit = "-" if usage.max_active is None else str(usage.max_active)
        full = usage.max_active is not None and usage.allocated >= usage.max_active
        tenants.add_row(name, str(usage.allocated), limit, style="bold red" if full else None)
    if not report.quarantined:
        return Group(pool_table, tenants, queues, runs)
    held = Table("sandbox", "since", "reason", title="quarantined", box=box.SIMPLE_HEAD)
    for s in report.quarantined:
        since = age(report.taken_at - s.quarantined_at) + " ago" if s.quarantined_at else "-"
        held.add_row(s.sandbox_id, since, s.quarantine_reason or "-", style="red")
    return Group(pool_table, tenants, held, queues, runs)
