"""The token authorizer Lambda: roles, policies, caching, failures (Secrets Manager on moto)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.authorizer import handler as authorizer
from infra.authorizer.handler import UNAUTHORIZED, TokenStore, authorize

TRACK_TOKEN = "track-" + "t" * 40
ADMIN_TOKEN = "admin-" + "a" * 40
API = "arn:aws:execute-api:eu-central-1:111122223333:abc123/live"
USAGE_KEYS = {"track": "usage-track", "admin": "usage-admin"}


def method_arn(verb: str, path: str) -> str:
    return f"{API}/{verb}/{path.lstrip('/')}"


def allowed(answer: dict[str, Any], arn: str) -> bool:
    """IAM evaluation of the returned policy for one method ARN: explicit Deny wins."""
    effects = [
        st["Effect"]
        for st in answer["policyDocument"]["Statement"]
        if any(fnmatch.fnmatchcase(arn, pattern) for pattern in st["Resource"])
    ]
    return "Allow" in effects and "Deny" not in effects


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-central-1")
        yield client


@pytest.fixture
def store(secrets: Any) -> TokenStore:
    track = secrets.create_secret(Name="t/track-token", SecretString=TRACK_TOKEN)["ARN"]
    admin = secrets.create_secret(Name="t/admin-token", SecretString=ADMIN_TOKEN + "\n")["ARN"]
    return TokenStore(secrets, secret_arns={"track": track, "admin": admin})


def event(token: str | None, verb: str = "POST", path: str = "/v1/allocate") -> dict[str, Any]:
    ev: dict[str, Any] = {"type": "TOKEN", "methodArn": method_arn(verb, path)}
    if token is not None:
        ev["authorizationToken"] = token
    return ev


def test_a_valid_track_token_may_call_track_routes(store: TokenStore) -> None:
    answer = authorize(event(f"Bearer {TRACK_TOKEN}"), store, usage_keys=USAGE_KEYS)
    assert answer["context"] == {
        "role": "track",
        "tenant": "default",
        "track_id": "",
        "prefixes": "",
        "exp": "",
    }
    assert answer["usageIdentifierKey"] == "usage-track"
    for verb, path in [
        ("POST", "v1/allocate"),
        ("POST", "v1/sandboxes/2012220/mark-for-deletion"),
        ("GET", "v1/requests/req_01"),
        ("GET", "v1/sandboxes/2012220"),
    ]:
        assert allowed(answer, method_arn(verb, path)), path


def test_a_track_token_on_an_admin_route_is_denied(store: TokenStore) -> None:
    # GIVEN a track token asking for an admin route
    answer = authorize(
        event(f"Bearer {TRACK_TOKEN}", "GET", "/v1/admin/stats"), store, usage_keys=USAGE_KEYS
    )
    # THEN the policy denies it (API Gateway answers 403 FORBIDDEN) ...
    assert not allowed(answer, method_arn("GET", "v1/admin/stats"))
    assert not allowed(answer, method_arn("POST", "v1/admin/sync"))
    # ... and, cached for this token, still allows the track routes.
    assert allowed(answer, method_arn("POST", "v1/allocate"))


def test_a_valid_admin_token_may_call_admin_routes_and_read_any_reply(store: TokenStore) -> None:
    answer = authorize(
        event(f"Bearer {ADMIN_TOKEN}", "POST", "/v1/admin/sync"), store, usage_keys=USAGE_KEYS
    )
    assert answer["context"] == {"role": "admin"}
    assert answer["usageIdentifierKey"] == "usage-admin"
    assert allowed(answer, method_arn("POST", "v1/admin/sync"))
    assert allowed(answer, method_arn("GET", "v1/admin/sandboxes"))
    assert allowed(answer, method_arn("GET", "v1/requests/req_01"))
    # Track routes take the track token.
    assert not allowed(answer, method_arn("POST", "v1/allocate"))


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TRACK_TOKEN}x",
        f"Bearer {TRACK_TOKEN[:-1]}",
        "Bearer wrong",
        f"Basic {TRACK_TOKEN}",
        TRACK_TOKEN,  # no scheme
        f"Bearer {TRACK_TOKEN} {TRACK_TOKEN}",
    ],
)
def test_an_invalid_token_is_unauthorized(store: TokenStore, header: str) -> None:
    with pytest.raises(Exception, match=f"^{UNAUTHORIZED}$"):
        authorize(event(header), store, usage_keys=USAGE_KEYS)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "   "])
def test_a_missing_token_is_unauthorized(store: TokenStore, header: str | None) -> None:
    with pytest.raises(Exception, match=f"^{UNAUTHORIZED}$"):
        authorize(event(header), store, usage_keys=USAGE_KEYS)


def test_the_scheme_is_case_insensitive(store: TokenStore) -> None:
    answer = authorize(event(f"bearer {TRACK_TOKEN}"), store, usage_keys=USAGE_KEYS)
    assert answer["principalId"] == "track"


def test_a_secret_without_a_value_matches_nothing(secrets: Any) -> None:
    """A secret the module created but nobody filled: its role is refused, nothing crashes."""
    track = secrets.create_secret(Name="t/track-token", SecretString=TRACK_TOKEN)["ARN"]
    empty = secrets.create_secret(Name="t/admin-token")["ARN"]  # no value put
    store = TokenStore(secrets, secret_arns={"track": track, "admin": empty})
    assert authorize(event(f"Bearer {TRACK_TOKEN}"), store, usage_keys={})["principalId"] == "track"
    for token in ("", " ", "Bearer"):
        with pytest.raises(Exception, match=UNAUTHORIZED):
            authorize(event(f"Bearer {token}"), store, usage_keys={})
    assert "usageIdentifierKey" not in authorize(
        event(f"Bearer {TRACK_TOKEN}"), store, usage_keys={}
    )


class CountingClient:
    """A Secrets Manager stand-in that counts reads and can fail."""

    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads = 0
        self.down = False

    def get_secret_value(self, *, SecretId: str) -> dict[str, str]:
        self.reads += 1
        if self.down:
            raise ConnectionError("secrets manager unreachable")
        return {"SecretString": self.values[SecretId]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_are_cached_then_reread_so_a_rotation_takes_effect() -> None:
    old, new = "old-" + "o" * 24, "new-" + "n" * 24
    client = CountingClient({"arn:track": old, "arn:admin": ADMIN_TOKEN})
    clock = Clock()
    store = TokenStore(
        client, secret_arns={"track": "arn:track", "admin": "arn:admin"}, ttl_s=60, clock=clock
    )
    for _ in range(5):
        authorize(event(f"Bearer {old}"), store, usage_keys={})
    assert client.reads == 2  # one read per secret, then the cache
    client.values["arn:track"] = new
    clock.now += 61
    authorize(event(f"Bearer {new}"), store, usage_keys={})
    with pytest.raises(Exception, match=UNAUTHORIZED):
        authorize(event(f"Bearer {old}"), store, usage_keys={})


def test_an_outage_keeps_the_last_good_tokens_for_a_while_then_fails_loudly() -> None:
    client = CountingClient({"arn:track": TRACK_TOKEN, "arn:admin": ADMIN_TOKEN})
    clock = Clock()
    store = TokenStore(
        client, secret_arns={"track": "arn:track", "admin": "arn:admin"}, ttl_s=60, clock=clock
    )
    authorize(event(f"Bearer {TRACK_TOKEN}"), store, usage_keys={})
    client.down = True
    clock.now += 120
    assert authorize(event(f"Bearer {TRACK_TOKEN}"), store, usage_keys={})["principalId"] == "track"
    clock.now += authorizer.STALE_GRACE_S
    # Not "Unauthorized": API Gateway answers 500 (a 503 gateway response), not 401.
    with pytest.raises(ConnectionError):
        authorize(event(f"Bearer {TRACK_TOKEN}"), store, usage_keys={})


def test_without_any_read_an_outage_is_a_failure_not_a_401() -> None:
    client = CountingClient({})
    client.down = True
    store = TokenStore(client, secret_arns={"track": "arn:track", "admin": "arn:admin"})
    with pytest.raises(ConnectionError):
        authorize(event(f"Bearer {TRACK_TOKEN}"), store, usage_keys={})


def test_every_configured_token_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, store: TokenStore
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = authorizer.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(authorizer.hmac, "compare_digest", spy)
    authorize(event(f"Bearer {TRACK_TOKEN}"), store, usage_keys={})
    assert len(calls) == 2  # both tokens, though the first one compared matched
    calls.clear()
    with pytest.raises(Exception, match=UNAUTHORIZED):
        authorize(event("Bearer nope"), store, usage_keys={})
    assert len(calls) == 2


def test_the_lambda_entry_point_reads_its_configuration_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, secrets: Any
) -> None:
    track = secrets.create_secret(Name="e/track-token", SecretString=TRACK_TOKEN)["ARN"]
    admin = secrets.create_secret(Name="e/admin-token", SecretString=ADMIN_TOKEN)["ARN"]
    monkeypatch.setenv("TRACK_TOKEN_SECRET_ARN", track)
    monkeypatch.setenv("ADMIN_TOKEN_SECRET_ARN", admin)
    monkeypatch.setenv("TRACK_USAGE_KEY", "k-track")
    monkeypatch.setenv("ADMIN_USAGE_KEY", "k-admin")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    authorizer._default_store.cache_clear()
    try:
        answer = authorizer.handler(event(f"Bearer {ADMIN_TOKEN}", "GET", "/v1/admin/stats"), None)
        assert answer["principalId"] == "admin"
        assert answer["usageIdentifierKey"] == "k-admin"
        with pytest.raises(Exception, match=UNAUTHORIZED):
            authorizer.handler(event("Bearer nope"), None)
    finally:
        authorizer._default_store.cache_clear()


def test_tokens_are_never_logged(caplog: pytest.LogCaptureFixture, store: TokenStore) -> None:
    caplog.set_level("DEBUG")
    authorize(event(f"Bearer {TRACK_TOKEN}"), store, usage_keys=USAGE_KEYS)
    with pytest.raises(Exception, match=UNAUTHORIZED):
        authorize(event(f"Bearer {TRACK_TOKEN}zz"), store, usage_keys=USAGE_KEYS)
    assert TRACK_TOKEN not in caplog.text
    assert ADMIN_TOKEN not in caplog.text


def test_the_lambda_package_is_the_handler_file_alone() -> None:
    """Terraform zips infra/authorizer/handler.py: it may import nothing of this project."""
    import ast
    from pathlib import Path

    source = Path(authorizer.__file__).read_text()
    imported = {
        (node.module or "").split(".")[0]
        if isinstance(node, ast.ImportFrom)
        else alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {
        "__future__",
        "base64",
        "hashlib",
        "re",
        "functools",
        "hmac",
        "json",
        "logging",
        "os",
        "time",
        "collections",
        "typing",
        "boto3",
    }
