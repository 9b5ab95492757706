"""The WAF web ACL: per-track budgets keyed as the local gateway keys its buckets.

The rules are read from the evaluated Terraform and interpreted here (the statement kinds
they use: rate-based with header custom keys, size constraints, NOT), then checked against
the local gateway's choice of track id and its token bucket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.gateway.ratelimit import RateLimiter
from producers.gateway.validation import LEGACY_TRACK_ID_HEADER, TRACK_ID_HEADER
from schemas.settings import GatewaySettings
from tests.infra.plan import one, plan

TOKEN = "Bearer track-token"


def acl(**overrides: Any) -> dict[str, Any]:
    return one(plan(**overrides).child("waf"), "aws_wafv2_web_acl", "api").config()


def _header(headers: dict[str, str], name: str) -> str | None:
    found = [v for k, v in headers.items() if k.lower() == name.lower()]
    return found[0] if found else None


def matches(statement: dict[str, Any], headers: dict[str, str]) -> bool:
    """The statement kinds the rules use, as WAF evaluates them."""
    if statement.get("size_constraint_statement"):
        (size,) = statement["size_constraint_statement"]
        ((field,),) = [f["single_header"] for f in size["field_to_match"]]
        value = _header(headers, field["name"])
        if value is None:  # a missing header does not match a size constraint
            return False
        assert size["comparison_operator"] == "GT"
        return len(value.encode()) > size["size"]
    if statement.get("not_statement"):
        ((inner,),) = [n["statement"] for n in statement["not_statement"]]
        return not matches(inner, headers)
    raise AssertionError(f"statement kind not interpreted here: {statement}")


def counted_keys(
    rules: list[dict[str, Any]], headers: dict[str, str]
) -> dict[str, tuple[str, ...]]:
    """Rule name -> the aggregation key WAF counts this request under (rules that count it)."""
    out = {}
    for rule in rules:
        (rate,) = rule["statement"][0]["rate_based_statement"]
        scope = rate.get("scope_down_statement") or []
        if scope and not matches(scope[0], headers):
            continue
        key = []
        for custom in rate["custom_key"]:
            (header,) = custom["header"]
            value = _header(headers, header["name"])
            if value is None:  # WAF does not count a request missing a custom key
                break
            key.append(value)
        else:
            out[rule["name"]] = tuple(key)
    return out


def local_track_id(headers: dict[str, str]) -> str | None:
    """The local gateway's track id (validation.track_headers, values assumed valid)."""
    return _header(headers, TRACK_ID_HEADER) or _header(headers, LEGACY_TRACK_ID_HEADER) or None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({TRACK_ID_HEADER: "lab-1"}, {"track-sandbox-header": ("lab-1", TOKEN)}),
        ({LEGACY_TRACK_ID_HEADER: "lab-1"}, {"track-legacy-header": ("lab-1", TOKEN)}),
        (
            {TRACK_ID_HEADER: "lab-1", LEGACY_TRACK_ID_HEADER: "other"},
            {"track-sandbox-header": ("lab-1", TOKEN)},
        ),
        (
            {TRACK_ID_HEADER: "", LEGACY_TRACK_ID_HEADER: "lab-1"},
            {"track-legacy-header": ("lab-1", TOKEN)},
        ),
        ({"x-instruqt-sandbox-id": "lab-1"}, {"track-sandbox-header": ("lab-1", TOKEN)}),
        ({}, {}),  # admin calls and reply reads by the admin: their budget is the usage plan
    ],
)
def test_each_request_is_counted_once_under_the_local_gateways_track_id(
    headers: dict[str, str], expected: dict[str, tuple[str, ...]]
) -> None:
    rules = acl()["rule"]
    keys = counted_keys(rules, {"Authorization": TOKEN, **headers})
    assert keys == expected
    track = local_track_id(headers)
    assert [k[0] for k in keys.values()] == ([track] if track else [])


def test_a_wrong_token_never_spends_a_real_tracks_budget() -> None:
    rules = acl()["rule"]
    real = counted_keys(rules, {"Authorization": TOKEN, TRACK_ID_HEADER: "lab-1"})
    forged = counted_keys(rules, {"Authorization": "Bearer guess", TRACK_ID_HEADER: "lab-1"})
    assert real.keys() == forged.keys()
    assert real != forged


def test_the_rules_limit_per_60_s_what_the_local_bucket_admits_per_minute() -> None:
    settings_ = GatewaySettings()
    for rule in acl()["rule"]:
        (rate,) = rule["statement"][0]["rate_based_statement"]
        assert rate["evaluation_window_sec"] == 60  # WAF's shortest window
        assert rate["aggregate_key_type"] == "CUSTOM_KEYS"
        assert rate["limit"] == settings_.rate_limit_per_min + settings_.rate_limit_burst
    other = acl(track_rate_limit_per_min=30, track_rate_limit_burst=5)
    assert {r["statement"][0]["rate_based_statement"][0]["limit"] for r in other["rule"]} == {35}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=400))
def test_any_calls_the_local_bucket_admits_stay_within_the_waf_limit(gaps: list[float]) -> None:
    """A track that never sees a local 429 never sees WAF's: whatever its timing, what the
    bucket (100/min, burst 20) lets through in any 60 s is at most rate + burst."""
    settings_ = GatewaySettings()
    now = [0.0]
    limiter = RateLimiter(
        per_min=settings_.rate_limit_per_min, burst=settings_.rate_limit_burst, clock=lambda: now[0]
    )
    admitted: list[float] = []
    for gap in gaps:
        now[0] += gap
        if limiter.acquire("t") is None:
            admitted.append(now[0])
    limit = settings_.rate_limit_per_min + settings_.rate_limit_burst
    for i, start in enumerate(admitted):
        in_window = sum(1 for t in admitted[i:] if t < start + 60)
        assert in_window <= limit


def test_a_blocked_request_gets_the_contracts_429() -> None:
    web_acl = acl()
    bodies = {b["key"]: b for b in web_acl["custom_response_body"]}
    for rule in web_acl["rule"]:
        ((block,),) = [a["block"] for a in rule["action"]]
        (response,) = block["custom_response"]
        assert response["response_code"] == 429
        body = bodies[response["custom_response_body_key"]]
        assert body["content_type"] == "APPLICATION_JSON"
        assert json.loads(body["content"]) == {
            "error": {"code": "RATE_LIMITED", "message": "rate limit exceeded"}
        }
        headers = {h["name"]: h["value"] for h in response["response_header"]}
        assert int(headers["Retry-After"]) >= 1
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-store"
        assert "Access-Control-Allow-Origin" not in headers  # no origin allowed by default
    one_origin = acl(cors_origins=["https://play.example"])["rule"][0]
    headers = {
        h["name"]: h["value"]
        for h in one_origin["action"][0]["block"][0]["custom_response"][0]["response_header"]
    }
    assert headers["Access-Control-Allow-Origin"] == "https://play.example"


def test_the_web_acl_guards_the_stage_and_logs_blocks_without_tokens() -> None:
    ev = plan()
    waf = ev.child("waf")
    web_acl = acl()
    assert web_acl["scope"] == "REGIONAL"
    assert web_acl["default_action"] == [{"allow": [{}]}]
    association = one(waf, "aws_wafv2_web_acl_association", "stage").config()
    assert association["resource_arn"] == one(
        ev.child("api_gateway"), "aws_api_gateway_stage", "this"
    ).get("arn")
    logging = one(waf, "aws_wafv2_web_acl_logging_configuration", "api").config()
    assert logging["redacted_fields"] == [{"single_header": [{"name": "authorization"}]}]
    group = one(waf, "aws_cloudwatch_log_group", "waf").config()
    assert group["name"].startswith("aws-waf-logs-")
