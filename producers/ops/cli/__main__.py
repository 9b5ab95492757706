"""``python -m producers.ops.cli``: the operator commands without the rest of the CLI."""

from producers.ops.cli import app

app()
