"""The operator CLI's surface: help with examples, refusals and usage errors (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from producers.ops.cli import app, dlq_app, jobs_app, pool_app, status
from producers.ops.status import scheduled_request_ids
from schemas.settings import SchedulerSettings
from tests.subprocesses import at_a_terminal

runner = CliRunner()
# Refusals must happen before any AWS call: point at a port nothing listens on.
ENV = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "BROKER_CONNECT_TIMEOUT_S": "0.2"}

COMMANDS = [
    ["dlq", "list"],
    ["dlq", "show"],
    ["dlq", "replay"],
    ["dlq", "purge"],
    ["pool", "stats"],
    ["pool", "list"],
    ["jobs", "run"],
    ["status"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.stdout
    assert f"sandbox-broker {' '.join(command)}" in result.stdout


def test_data_commands_offer_json() -> None:
    for command in COMMANDS:
        if command[:2] == ["jobs", "run"]:
            continue  # prints JSON always
        assert "--json" in runner.invoke(app, [*command, "--help"]).stdout, command


def test_list_help_says_listing_raises_receive_counts() -> None:
    text = " ".join(runner.invoke(app, ["dlq", "list", "--help"]).stdout.split())
    assert "ApproximateReceiveCount" in text


def test_the_apps_the_root_mounts_are_exported() -> None:
    assert {c.name for c in dlq_app.registered_commands} == {"list", "show", "replay", "purge"}
    # the root CLI adds its own `seed` to this app when it is imported
    assert {"stats", "list"} <= {c.name for c in pool_app.registered_commands}
    assert {c.name for c in jobs_app.registered_commands} == {"run"}
    assert callable(status)


def test_purge_without_yes_refuses_with_exit_2() -> None:
    result = runner.invoke(app, ["dlq", "purge", "--queue", "jobs"], env=ENV)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: refusing to purge without --yes")


def test_purge_requires_the_queue() -> None:
    result = runner.invoke(app, ["dlq", "purge", "--yes"], env=ENV)
    assert result.exit_code == 2
    assert "--queue" in result.stderr


def test_purge_refuses_an_export_file_that_exists(tmp_path: Path) -> None:
    existing = tmp_path / "dead.jsonl"
    existing.write_text("keep me\n")
    args = ["dlq", "purge", "--queue", "jobs", "--export", str(existing), "--yes"]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 2
    assert "exists" in result.stderr
    assert existing.read_text() == "keep me\n"


def test_replay_without_yes_and_without_a_terminal_refuses_with_exit_2() -> None:
    result = runner.invoke(app, ["dlq", "replay"], env=ENV)
    assert result.exit_code == 2
    assert "without --yes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_native_takes_no_filters() -> None:
    result = runner.invoke(app, ["dlq", "replay", "--native", "--type", "allocate"], env=ENV)
    assert result.exit_code == 2


def test_unknown_job_and_bad_options_are_usage_errors() -> None:
    assert runner.invoke(app, ["jobs", "run", "reboot"], env=ENV).exit_code == 2
    assert runner.invoke(app, ["dlq", "list", "--queue", "nope"], env=ENV).exit_code == 2
    assert runner.invoke(app, ["dlq", "list", "--limit", "0"], env=ENV).exit_code == 2


def test_status_looks_up_the_current_and_previous_scheduler_buckets() -> None:
    settings = SchedulerSettings(sync_interval_s=600, cleanup_interval_s=300)
    ids = scheduled_request_ids(settings, now=1_200_100.0)
    assert ids["sync"] == ("sched_sync_2000", "sched_sync_1999")
    assert ids["cleanup"] == ("sched_cleanup_4000", "sched_cleanup_3999")
    assert set(ids) == {"sync", "cleanup", "expire", "delete_stale"}


def test_replay_at_a_terminal_asks_and_a_no_changes_nothing() -> None:
    """Without --yes at a real terminal (a pty) the operator is asked; "n" is exit 2."""
    code, text = at_a_terminal(["dlq", "replay", "--queue", "jobs"], ENV, b"n\n")
    assert code == 2
    assert "Replay all matching messages" in text
    assert "error: not confirmed: nothing to replay" in text
