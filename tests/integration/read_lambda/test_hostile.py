"""Whatever a caller puts in a path id, a query parameter or a header, the read Lambda
answers 2xx or the contract's 4xx body, never a 5xx (hypothesis, on the real moto server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.gateway.helpers import ADMIN, TRACK
from tests.integration.read_lambda.conftest import Invoke, ProxyEvent

pytestmark = pytest.mark.integration

#: Any text but "/", which would name another resource (API Gateway would not route it here).
segment = st.text(
    st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), max_size=300
)
value = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
    st.from_regex(r"[0-9]{1,6000}", fullmatch=True),  # long numbers
    st.just("[" * 2000 + "]" * 2000),  # nested
)


def assert_contract(answer: dict[str, Any]) -> None:
    assert answer["statusCode"] < 500, answer["body"][:500]
    if answer["statusCode"] >= 400:
        body = json.loads(answer["body"])
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert answer["headers"]["x-content-type-options"] == "nosniff"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sandbox_id=segment, track=value)
async def test_any_sandbox_id_and_track_header(
    invoke: Invoke, proxy_event: ProxyEvent, sandbox_id: str, track: str
) -> None:
    if not sandbox_id:
        return  # "/v1/sandboxes/" is another resource
    event = proxy_event(
        "GET",
        "/v1/sandboxes/x",
        headers={"Authorization": f"Bearer {TRACK}", "X-Instruqt-Sandbox-ID": track},
    )
    event["path"] = f"/v1/sandboxes/{sandbox_id}"
    event["pathParameters"] = {"sandbox_id": sandbox_id}
    assert_contract(await invoke(event))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(status=value, limit=value, cursor=value)
async def test_any_page_parameters(
    invoke: Invoke, proxy_event: ProxyEvent, status: str, limit: str, cursor: str
) -> None:
    event = proxy_event(
        "GET",
        "/v1/admin/sandboxes",
        headers={"Authorization": f"Bearer {ADMIN}"},
        query={"status": status, "limit": limit, "cursor": cursor},
    )
    assert_contract(await invoke(event))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(authorization=value, body=st.one_of(st.none(), value))
async def test_any_authorization_and_body(
    invoke: Invoke, proxy_event: ProxyEvent, authorization: str, body: str | None
) -> None:
    event = proxy_event(
        "GET", "/v1/admin/stats", headers={"Authorization": authorization}, body=body
    )
    assert_contract(await invoke(event))
