"""Hostile input from outside never reaches a 500, and never grows the metrics without bound.

Findings of the security review (issue 13): a body of 16,000 ``[`` raised RecursionError in
``json.loads`` and `limit=` with 5,000 digits hit ``int()``'s digit limit, both answered 500;
the raw HTTP method was a metric label, so 2,000 invented methods made 24,049 series.
"""

from __future__ import annotations

import random
import string

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.errors import ErrorCode
from tests.unit.gateway.fakes import FakeSQS, admin_headers, track_headers
from tests.unit.gateway.test_http import assert_error

DEEP = b"[" * 16_000
DEEP_OBJECTS = b'{"a":' * 2_500 + b"{}" + b"}" * 2_500  # under the 16 KiB limit
HUGE_LIMIT = "9" * 5_000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECTS, b"[" * 8_000 + b"]" * 8_000])
async def test_a_deeply_nested_body_is_400_not_500(
    client: httpx.AsyncClient, fake_sqs: FakeSQS, body: bytes
) -> None:
    for path in ("/v1/allocate", "/v1/sandboxes/sbx-1/mark-for-deletion"):
        response = await client.post(path, headers=track_headers(), content=body)
        assert_error(response, 400, ErrorCode.INVALID_REQUEST)
    response = await client.post("/v1/admin/sync", headers=admin_headers(), content=body)
    assert_error(response, 400, ErrorCode.INVALID_REQUEST)
    assert fake_sqs.sent == []


@pytest.mark.parametrize("body", [b"\x00", b"\t{\x0b}\x0c", b" {  } \r\n"])
async def test_blank_bodies_are_what_api_gateways_template_calls_blank(
    client: httpx.AsyncClient, fake_sqs: FakeSQS, body: bytes
) -> None:
    """Blank = what Java's trim() removes (bytes up to 0x20), as infra/apigw/prelude.vtl."""
    response = await client.post("/v1/allocate", headers=track_headers(), content=body)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "query", [f"limit={HUGE_LIMIT}", f"limit=0{HUGE_LIMIT}", f"limit={'0' * 5_000}1"]
)
async def test_a_limit_of_thousands_of_digits_is_400_not_500(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(f"/v1/admin/sandboxes?{query}", headers=admin_headers())
    assert_error(response, 400, ErrorCode.INVALID_REQUEST)


def _series(page: str) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Distinct label sets per metric family on a /metrics page."""
    found: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            found.setdefault(family.name, set()).add(tuple(sorted(sample.labels.items())))
    return found


async def test_invented_methods_and_paths_do_not_grow_the_metric_series(
    client: httpx.AsyncClient,
) -> None:
    rng = random.Random(13)
    statuses: set[int] = set()
    methods: set[str] = set()
    for n in range(2_000):
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
        methods.add(method)
        path = rng.choice(
            ["/v1/allocate", "/v1/admin/stats", f"/v1/requests/req_{n}", f"/x/{n}", "/metrics"]
        )
        response = await client.request(method, path, headers=track_headers(f"t-{n}"))
        statuses.add(response.status_code)
    assert max(statuses) < 500
    page = (await client.get("/metrics")).text
    series = _series(page)
    # Before: one http_requests_total series per method and the latency histogram's 13 per
    # method on top (24,049 from 2,000 methods). Now each label takes a handful of values.
    assert len(series["http_requests"]) <= 12, series["http_requests"]
    assert len(series["broker_request_latency_seconds"]) <= 12 * 13
    labels = {value for sets in series.values() for labels in sets for _, value in labels}
    assert not labels & methods
    assert {"other", "unmatched"} <= labels
    assert "req_5" not in page and "/x/" not in page
