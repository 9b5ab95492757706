"""v2 settings: defaults, bounds and cross-field rules (no behaviour reads them yet)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.settings import ConsumerSettings, GatewaySettings

SECRET = "s" * 24


@pytest.fixture(autouse=True)
def _no_broker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's BROKER_* variables must not decide these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("BROKER_"):
            monkeypatch.delenv(name)


def test_consumer_defaults_are_the_decisions() -> None:
    s = ConsumerSettings()
    assert s.extension_s == 3600
    assert s.max_lease_s == 43_200
    assert s.quarantine_after == 5
    assert s.max_deletion_retries == 3
    assert s.history_ttl_s == 90 * 86_400
    assert s.events_webhook_url is None


def test_gateway_defaults_are_the_decisions() -> None:
    s = GatewaySettings()
    assert s.token_signing_secret is None
    assert s.tenant_cache_ttl_s == 30
    assert s.max_header_bytes == 10_240


def test_the_new_settings_come_from_broker_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "BROKER_EXTENSION_S": "600",
        "BROKER_MAX_LEASE_S": "86400",
        "BROKER_QUARANTINE_AFTER": "7",
        "BROKER_HISTORY_TTL_S": "172800",
        "BROKER_EVENTS_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "BROKER_TOKEN_SIGNING_SECRET": SECRET,
        "BROKER_TENANT_CACHE_TTL_S": "5",
    }.items():
        monkeypatch.setenv(name, value)
    c, g = ConsumerSettings(), GatewaySettings()
    assert (c.extension_s, c.max_lease_s, c.quarantine_after) == (600, 86_400, 7)
    assert (c.history_ttl_s, c.events_webhook_url) == (172_800, "http://127.0.0.1:9/hook")
    assert g.token_signing_secret is not None
    assert g.token_signing_secret.get_secret_value() == SECRET
    assert g.tenant_cache_ttl_s == 5


def _valid(cls: type[Any], **values: Any) -> bool:
    try:
        cls(**values)
    except ValidationError:
        return False
    return True


@given(st.integers(min_value=0, max_value=200_000))
def test_extension_s_is_accepted_from_60_to_86400(seconds: int) -> None:
    assert _valid(ConsumerSettings, extension_s=seconds) == (60 <= seconds <= 86_400)


@given(st.integers(min_value=0, max_value=40 * 86_400))
def test_max_lease_s_must_cover_the_lab_duration(seconds: int) -> None:
    lab = ConsumerSettings.model_fields["lab_duration_s"].default
    assert _valid(ConsumerSettings, max_lease_s=seconds) == (lab <= seconds <= 30 * 86_400)


@given(retries=st.integers(min_value=1, max_value=12), after=st.integers(min_value=1, max_value=12))
def test_a_delete_message_gives_up_before_quarantine(retries: int, after: int) -> None:
    ok = _valid(ConsumerSettings, max_deletion_retries=retries, quarantine_after=after)
    assert ok == (retries < after)


def test_history_keeps_at_least_a_day() -> None:
    assert not _valid(ConsumerSettings, history_ttl_s=3600)
    assert _valid(ConsumerSettings, history_ttl_s=86_400)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8080/events", True),
        ("https://hooks.example.com/x?y=1", True),
        ("ftp://example.com/", False),
        ("example.com/hook", False),
        ("http://a b", False),
        ("", False),
    ],
)
def test_the_events_webhook_is_an_http_url(url: str, ok: bool) -> None:
    assert _valid(ConsumerSettings, events_webhook_url=url) == ok


@given(st.integers(min_value=0, max_value=100_000))
def test_max_header_bytes_bounds(size: int) -> None:
    assert _valid(GatewaySettings, max_header_bytes=size) == (1024 <= size <= 65_536)


@given(st.floats(min_value=-10, max_value=10_000, allow_nan=False))
def test_tenant_cache_ttl_bounds(ttl: float) -> None:
    assert _valid(GatewaySettings, tenant_cache_ttl_s=ttl) == (0 <= ttl <= 3600)


@given(st.text(max_size=40))
def test_the_signing_secret_is_at_least_24_characters(secret: str) -> None:
    strong = len(secret) >= 24 and secret == secret.strip() and secret != "*"
    assert _valid(GatewaySettings, token_signing_secret=secret) == strong


@pytest.mark.parametrize("token", ["track_token", "admin_token"])
def test_the_signing_secret_differs_from_every_token(token: str) -> None:
    assert not _valid(GatewaySettings, token_signing_secret=SECRET, **{token: SECRET})
    assert _valid(GatewaySettings, token_signing_secret=SECRET, **{token: SECRET + "x"})


def test_a_refused_secret_is_never_echoed_in_the_error() -> None:
    secret = "do-not-print-me-" + "x" * 12
    with pytest.raises(ValidationError) as caught:
        GatewaySettings(token_signing_secret=secret, admin_token=secret)
    # what a traceback or a log line renders
    assert "do-not-print-me" not in str(caught.value)
    assert "do-not-print-me" not in repr(caught.value)


def test_unknown_broker_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_SOMETHING_FROM_V9", "1")
    assert ConsumerSettings().extension_s == 3600
