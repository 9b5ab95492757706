"""LocalStack's endpoint is found the way localstack-client finds it, and refused clearly."""

from __future__ import annotations

import pytest

from infra.localstack import LocalStackUnavailableError, health, resolve


@pytest.fixture(autouse=True)
def _no_localstack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "USE_SSL", "USE_LEGACY_PORTS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "url", "source"),
    [
        ({}, "http://localhost:4566", "localstack-client's default (localhost:4566)"),
        ({"LOCALSTACK_HOST": "ls.internal"}, "http://ls.internal:4566", "LOCALSTACK_HOST"),
        ({"LOCALSTACK_HOST": "ls.internal:4599"}, "http://ls.internal:4599", "LOCALSTACK_HOST"),
        ({"LOCALSTACK_HOST": "ls:4599", "USE_SSL": "true"}, "https://ls:4599", "LOCALSTACK_HOST"),
        (
            {"AWS_ENDPOINT_URL": "http://edge:4566", "LOCALSTACK_HOST": "ignored:1"},
            "http://edge:4566",
            "AWS_ENDPOINT_URL",
        ),
    ],
)
def test_the_endpoint_is_localstack_clients(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, source: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    resolved = resolve()
    assert resolved.endpoint.url == url
    assert resolved.source == source


def test_credentials_are_localstack_clients_dummies_never_the_environments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    endpoint = resolve().endpoint
    assert endpoint.access_key_id != "AKIAREALKEY"
    assert endpoint.secret_access_key != "real-secret"
    assert endpoint.access_key_id and endpoint.secret_access_key


def test_an_endpoint_that_does_not_answer_is_refused_in_one_sentence() -> None:
    with pytest.raises(LocalStackUnavailableError, match=r"did not answer /_localstack/health"):
        health("http://127.0.0.1:1")
