"""``pool retry | quarantine | release``: the v2 operator verbs, run as jobs on the jobs queue.

Each command first reads the sandbox (strongly consistent) and refuses at once, exit 2, when
it is unknown or in a status the verb does not act on; otherwise it enqueues the job the
admin route enqueues (group ``sandbox:<id>``) and waits for its reply. The consumer checks
the status again in its conditional write, so a refusal there (the sandbox changed in
between) is exit 2 as well.
"""

from __future__ import annotations

from typing import Annotated, Final

import typer

from consumers.stores.clients import AwsClients
from consumers.stores.operator import QUARANTINE_FROM, RELEASE_FROM, RETRY_FROM, OperatorStore
from producers.exits import ExitCode, fail
from producers.ops import jobs
from producers.ops.cli.output import JsonOpt, err, out, print_json, reflowed
from producers.ops.cli.pool import pool_app
from producers.ops.cli.runner import load_settings, run
from producers.ops.queues import queue_url
from schemas.errors import ErrorCode
from schemas.messages import DEFAULT_OPERATOR_REASON, MessageType
from schemas.pool import SandboxStatus
from schemas.replies import ReplyRecord

#: Failed replies that mean "refused" (exit 2), not "the operation failed" (exit 1).
REFUSALS: Final = frozenset({ErrorCode.SANDBOX_NOT_FOUND, ErrorCode.INVALID_REQUEST})

ReasonOpt = Annotated[
    str,
    typer.Option("--reason", "-r", help="Why (1-500 printable characters; kept on the sandbox)."),
]
WaitOpt = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait for the consumer's reply (default).")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the reply.")
]
IdArg = Annotated[str, typer.Argument(help="The sandbox id.", show_default=False)]


def _act(
    job: MessageType,
    verb: str,
    allowed: frozenset[SandboxStatus],
    sandbox_id: str,
    *,
    reason: str,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    if not reason or len(reason) > 500 or not reason.isprintable():
        fail("--reason must be 1-500 printable characters", ExitCode.USAGE)
    settings = load_settings()

    async def work(c: AwsClients) -> tuple[str | None, str, ReplyRecord | None]:
        current = await OperatorStore(c.ddb, table=settings.names.pool_table).get(sandbox_id)
        if current is None:
            return f"no sandbox {sandbox_id}", "", None
        if current.status not in allowed:
            needs = " or ".join(sorted(s.value for s in allowed))
            return (
                f"cannot {verb} sandbox {sandbox_id}: it is {current.status.value}; "
                f"{verb} needs {needs}",
                "",
                None,
            )
        url = await queue_url(c.sqs, settings.names.jobs_queue)
        request_id = await jobs.enqueue_operator_action(
            c.sqs, queue_url=url, job=job, sandbox_id=sandbox_id, reason=reason
        )
        if not wait:
            return None, request_id, None
        err.print(f"enqueued {job.value} of {sandbox_id} as {request_id}; waiting for its reply…")
        reply = await jobs.wait_reply(
            c.ddb, table=settings.names.replies_table, request_id=request_id, timeout_s=timeout
        )
        return None, request_id, reply

    refusal, request_id, reply = run(settings, work)
    if refusal is not None:
        fail(refusal, ExitCode.USAGE)
    if not wait:
        accepted = {
            "request_id": request_id,
            "action": job.value,
            "status": "pending",
            "poll": f"/v1/requests/{request_id}",
        }
        print_json(accepted)
        return
    if reply is None:
        fail(f"no reply for {request_id} within {timeout:g}s", ExitCode.UNREACHABLE)
    if as_json:
        print_json(reply.to_reply().model_dump(mode="json"))
    if reply.error is not None:
        code = ExitCode.USAGE if reply.error.code in REFUSALS else ExitCode.FAILED
        if not as_json:
            fail(f"{reply.error.code.value}: {reply.error.message}", code)
        raise typer.Exit(int(code))
    if not as_json:
        out.print(f"{verb}: {sandbox_id} done ({request_id})")


@pool_app.command("retry")
@reflowed
def pool_retry(
    sandbox_id: IdArg,
    reason: ReasonOpt = DEFAULT_OPERATOR_REASON,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Retry the deletion of a quarantined or deletion_failed sandbox.

    It becomes pending_deletion with its failure count reset; the next cleanup deletes it.
    Exit 0 done, 2 unknown id or wrong status, 1 failed, 3 no reply in time.

    Examples:

      sandbox-broker pool retry sbx-00042

      sandbox-broker pool retry sbx-00042 --reason "CSP fixed" --json
    """
    _act(
        MessageType.RETRY,
        "retry",
        RETRY_FROM,
        sandbox_id,
        reason=reason,
        wait=wait,
        timeout=timeout,
        as_json=as_json,
    )


@pool_app.command("quarantine")
@reflowed
def pool_quarantine(
    sandbox_id: IdArg,
    reason: ReasonOpt,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Take a sandbox that is not allocated out of service (no allocation, no retries).

    `status` and `pool list --status quarantined` show it with the reason; `pool retry`
    brings it back through a deletion. Exit codes as for `pool retry`.

    Examples:

      sandbox-broker pool quarantine sbx-00042 --reason "MFA device lost"
    """
    _act(
        MessageType.QUARANTINE,
        "quarantine",
        QUARANTINE_FROM,
        sandbox_id,
        reason=reason,
        wait=wait,
        timeout=timeout,
        as_json=as_json,
    )


@pool_app.command("release")
@reflowed
def pool_release(
    sandbox_id: IdArg,
    reason: ReasonOpt,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Force an allocated sandbox to pending_deletion (a stuck lab); its lease ends `forced`.

    The track loses the sandbox and may allocate again. Exit codes as for `pool retry`.

    Examples:

      sandbox-broker pool release sbx-00042 --reason "lab stuck since 09:00"
    """
    _act(
        MessageType.FORCE_RELEASE,
        "release",
        RELEASE_FROM,
        sandbox_id,
        reason=reason,
        wait=wait,
        timeout=timeout,
        as_json=as_json,
    )
