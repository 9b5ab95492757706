"""`sandbox-broker loadgen`: help with examples, one-line errors for bad options, plots."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from producers.loadgen import loadgen_app
from producers.loadgen.plot import render_html, write_plot
from producers.loadgen.report import SUCCEEDED, RequestRecord, summarize

runner = CliRunner()


def test_help_shows_examples() -> None:
    result = runner.invoke(loadgen_app, ["--help"])
    assert result.exit_code == 0
    assert "--burst -n 1000" in result.output
    assert "--poison-rate" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--burst", "--rate", "5"], "exactly one of rate, concurrency or burst"),
        (["--burst", "--url", "http://10.1.2.3:8000"], "loopback"),
        (["--rate", "often"], "expected N, N/s or N/min"),
        (["--burst", "-n", "0"], "greater than or equal to 1"),
        (["--burst", "--plot", "x.svg"], "--plot must end in .png or .html"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, message) -> None:
    result = runner.invoke(
        loadgen_app, ["--url", "http://127.0.0.1:9", "--token", "t", *args], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert message in result.output


def test_a_ready_file_fills_url_token_and_endpoint(tmp_path) -> None:
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps({"gateway_url": "http://10.0.0.1:1", "track_token": "t"}))
    result = runner.invoke(loadgen_app, ["--ready-file", str(ready), "--burst"])
    assert result.exit_code == 2
    assert "http://10.0.0.1:1 is not a loopback address" in result.output


def _records():
    return [
        RequestRecord(
            index=n,
            track_id=f"t{n}",
            action="allocate",
            started=n * 0.1,
            started_wall=1000.0,
            finished=n * 0.1 + 0.05 * (n + 1),
            outcome=SUCCEEDED,
            sandbox_id=f"s{n}",
        )
        for n in range(30)
    ]


def _summary(records):
    return summarize(
        records,
        target="gateway",
        pacing="burst",
        started_at="now",
        client_calls={},
        server_delta=None,
        loadgen_reads=0,
    )


def test_the_html_plot_is_one_self_contained_file(tmp_path) -> None:
    records = _records()
    page = write_plot(tmp_path / "p.html", records, _summary(records)).read_text()
    assert page.startswith("<!doctype html>")
    assert page.count("<circle") == 30
    assert "<script" not in page
    assert "src=" not in page and "href=" not in page


def test_the_png_plot_is_an_image(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    records = _records()
    png = write_plot(tmp_path / "p.png", records, _summary(records)).read_bytes()
    assert png.startswith(b"\x89PNG")


def test_an_empty_run_still_plots() -> None:
    assert "<svg" in render_html([], _summary([]))
