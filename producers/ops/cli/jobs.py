"""``jobs run``: enqueue a periodic job now, as the admin API does, and wait for its reply."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from consumers.stores.clients import AwsClients
from producers.exits import ExitCode, fail
from producers.ops import jobs
from producers.ops.cli.output import err, print_json, reflowed
from producers.ops.cli.runner import load_settings, run
from producers.ops.queues import queue_url

jobs_app = typer.Typer(help="Run the periodic jobs on demand.")


@jobs_app.command("run")
@reflowed
def jobs_run(
    job: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(set(jobs.JOB_NAMES)))}.")],
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Wait for the reply and print it.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds --wait waits for the reply.")
    ] = 60.0,
) -> None:
    """Enqueue a job on the jobs queue as the admin API does; print JSON.

    Without --wait prints the accepted request (request id, poll path). With --wait polls
    the replies table until the reply is terminal and prints it: exit 0 when it
    succeeded, 1 when it failed, 3 when no reply came within --timeout.

    Examples:

      sandbox-broker jobs run sync --wait

      sandbox-broker jobs run delete-stale --wait --timeout 300 | jq .result
    """
    kind = jobs.JOB_NAMES.get(job)
    if kind is None:
        fail(
            f"unknown job {job!r}; one of: {', '.join(sorted(set(jobs.JOB_NAMES)))}",
            ExitCode.USAGE,
        )
    settings = load_settings()

    async def work(c: AwsClients) -> tuple[str, Any]:
        url = await queue_url(c.sqs, settings.names.jobs_queue)
        request_id, _ = await jobs.enqueue_job(c.sqs, queue_url=url, job=kind)
        if not wait:
            return request_id, None
        err.print(f"enqueued {kind.value} as {request_id}; waiting for its reply…")
        reply = await jobs.wait_reply(
            c.ddb, table=settings.names.replies_table, request_id=request_id, timeout_s=timeout
        )
        return request_id, reply

    request_id, reply = run(settings, work)
    if not wait:
        print_json(
            {
                "request_id": request_id,
                "action": kind.value,
                "status": "pending",
                "poll": f"/v1/requests/{request_id}",
            }
        )
        return
    if reply is None:
        fail(f"no reply for {request_id} within {timeout:g}s", ExitCode.UNREACHABLE)
    print_json(reply.to_reply().model_dump(mode="json"))
    if reply.status.value != "succeeded":
        raise typer.Exit(int(ExitCode.FAILED))
