"""No token in any log line or traceback, in any format (issue 13, security review).

The finding: console logging rendered tracebacks with rich's ``show_locals``, so one 500
printed every frame's request headers — 16 copies of the bearer token. These tests log the
way the processes do (``configure_logging``, both formats) and read what reaches stderr.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
import structlog

from infra.logging import REDACTED, LogFormat, Redactor
from tests.logs import rendered_logs

#: A track token as the settings hold it, and a signed track token (sbt1.<claims>.<mac>).
TOKEN = "trk-9f2c1d7e4b8a6c3f0e5d2a1b"
SIGNED = "sbt1.eyJ0ZW5hbnQiOiJhY21lIiwidHJhY2tfaWQiOiJ0LTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
OTHER = "never-configured-token-abcdefgh"
UNKNOWN = "shaped-like-nothing-0123456789"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_TRACK_TOKEN", TOKEN)


def _log_secrets_everywhere(fmt: str) -> None:
    log = structlog.get_logger(f"tests.logging.{fmt}")
    try:
        _fail_with_secrets_in_locals()
    except RuntimeError:
        log.exception("unhandled_error", authorization=f"Bearer {OTHER}", path="/v1/allocate")
        logging.getLogger(f"stdlib.{fmt}").exception("stdlib side: %s", TOKEN)
    log.info("plain", token=TOKEN, signed=SIGNED, quoted=quote(f"Bearer {OTHER}"))
    log.warning("csp_failed", header=f"Authorization: Token {OTHER}")
    log.info("by_name", csp_token=UNKNOWN, authorization=UNKNOWN, token_id="tok_1")


def _fail_with_secrets_in_locals() -> None:
    headers = {"authorization": f"Bearer {TOKEN}", "x-signed": SIGNED}
    raw = [(b"authorization", f"Bearer {OTHER}".encode())]
    token = TOKEN
    canary = "-".join(("only", "in", "a", "local"))  # never in the message nor the source
    raise RuntimeError(f"could not use {headers!r} {raw!r} {token} {len(canary)}")


@pytest.mark.parametrize("fmt", ["console", "json"])
@pytest.mark.usefixtures("secret_env")
def test_no_token_in_any_line_or_traceback(fmt: LogFormat) -> None:
    with rendered_logs(fmt, "INFO") as stderr:
        _log_secrets_everywhere(fmt)
    text = stderr.getvalue()
    assert "RuntimeError" in text and "unhandled_error" in text and "csp_failed" in text
    assert "_fail_with_secrets_in_locals" in text  # the traceback is there, only redacted
    assert "tok_1" in text  # a token's id is not a secret
    for secret in (TOKEN, SIGNED, OTHER, quote(TOKEN), UNKNOWN):
        assert secret not in text, (secret, text)
    assert REDACTED in text


@pytest.mark.usefixtures("secret_env")
def test_console_tracebacks_show_no_locals() -> None:
    with rendered_logs("console", "INFO") as stderr:
        try:
            _fail_with_secrets_in_locals()
        except RuntimeError:
            structlog.get_logger("tests.logging.frames").exception("boom")
    text = stderr.getvalue()
    assert "_fail_with_secrets_in_locals" in text
    assert "only-in-a-local" not in text


def test_redactor_keeps_ordinary_text_and_replaces_known_secrets_in_every_encoding() -> None:
    redactor = Redactor([TOKEN, None, "short"])
    assert redactor.redact("allocate succeeded for track t-1 in 12 ms") == (
        "allocate succeeded for track t-1 in 12 ms"
    )
    assert redactor.redact("short words stay") == "short words stay"
    for shown in (TOKEN, quote(TOKEN, safe=""), f"b'{TOKEN}'"):
        assert TOKEN not in redactor.redact(shown)
    assert redactor.redact("bearer abc.defgh") == f"bearer {REDACTED}"
    assert redactor.redact(f"Authorization: Bearer {TOKEN}") == f"Authorization: Bearer {REDACTED}"
    prose = "missing or invalid bearer token; the token may not use this route"
    assert redactor.redact(prose) == prose


def test_no_cli_prints_rich_tracebacks_with_locals() -> None:
    """typer's pretty exceptions show every frame's locals (a --token among them): every
    app that can be an entry point turns them off."""
    from infra.cli import app as root
    from producers.cli import gateway_app, track_app
    from producers.loadgen.cli import loadgen_app
    from producers.ops.cli import app as ops

    for app in (root, gateway_app, track_app, loadgen_app, ops):
        assert not (app.pretty_exceptions_enable and app.pretty_exceptions_show_locals), app.info


def test_configuring_logging_in_a_test_leaves_capture_logs_working() -> None:
    """The process's logging inside a test is undone: loggers that were used meanwhile
    are not left bound to it (later tests' capture_logs would see nothing)."""
    from structlog.testing import capture_logs

    from producers.gateway import middleware

    with rendered_logs("json", "INFO") as stderr:
        middleware.log.info("inside")
    with capture_logs() as logs:
        middleware.log.info("after")
    assert "inside" in stderr.getvalue()
    assert [e["event"] for e in logs] == ["after"]


def test_a_logger_cached_under_one_configuration_follows_the_next() -> None:
    """configure_logging edits structlog's processor list in place: a logger cached on first
    use (production caches) still follows a later configuration — and capture_logs, which
    edits that list, still sees it (a test that configured logging left later tests blind)."""
    import logging as stdlib_logging

    import structlog
    from structlog.testing import capture_logs

    from infra.logging import configure_logging

    saved = structlog.get_config()
    processors = list(saved["processors"])
    root = stdlib_logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("json", "CRITICAL")
        log = structlog.get_logger("tests.cached")
        log.debug("warm")  # cached on first use, bound to the configuration of the moment
    finally:
        structlog.configure(**saved)
        structlog.get_config()["processors"][:] = processors
        root.handlers[:], root.level = handlers, level
    with capture_logs() as logs:
        log.info("seen")
    assert [entry["event"] for entry in logs] == ["seen"]
