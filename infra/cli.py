"""``sandbox-broker``: the CLI root. Each package mounts its own commands here."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from infra.aws import aws_clients
from infra.logging import configure_logging
from infra.provision import provision
from schemas.settings import CommonSettings

app = typer.Typer(
    name="sandbox-broker",
    help="Hands out pre-provisioned cloud sandboxes to lab tracks over SQS FIFO + DynamoDB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
infra_app = typer.Typer(help="Provision queues and tables on moto, LocalStack or AWS.")
app.add_typer(infra_app, name="infra")

err = Console(stderr=True)


S = TypeVar("S", bound=CommonSettings)


def load_settings(cls: type[S]) -> S:
    """Read settings from the environment; a bad value is a one-line error, not a traceback."""
    try:
        return cls()
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "settings"
            err.print(f"[red]error:[/] BROKER_{field.upper()}: {e['msg']}")
        raise typer.Exit(2) from None


@infra_app.command("provision")
def provision_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Create both FIFO queues, their DLQs and redrive policies, and both tables (idempotent).

    Uses BROKER_AWS_ENDPOINT_URL / AWS_ENDPOINT_URL when set (moto, LocalStack), AWS otherwise.
    Running it twice changes nothing and says so.
    """
    settings = load_settings(CommonSettings)
    configure_logging("console" if not as_json else "json", "WARNING")

    async def run() -> list[tuple[str, str]]:
        async with aws_clients(settings) as aws:
            report = await provision(settings, sqs=aws.sqs, ddb=aws.ddb)
        return [(r, c.value) for r, c in report.changes]

    changes = asyncio.run(run())
    if as_json:
        sys.stdout.write(json.dumps([{"resource": r, "change": c} for r, c in changes]) + "\n")
        return
    table = Table("resource", "change")
    for resource, change in changes:
        table.add_row(resource, change)
    Console().print(table)
    if all(c == "unchanged" for _, c in changes):
        Console().print("Everything already exists as specified: nothing changed.")


def main() -> None:
    app()
