"""v2 admin routes ``POST /v1/admin/sandboxes/{id}/{retry,quarantine,release}`` on real moto."""

from __future__ import annotations

import pytest

from schemas.messages import ANY_MESSAGE
from tests.integration.gateway.helpers import GatewayEnv, admin, body_of, track

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("slug", "job", "content", "reason"),
    [
        ("retry", "retry", b"", "operator request"),
        ("quarantine", "quarantine", b'{"reason": "MFA lost (ticket 42)"}', "MFA lost (ticket 42)"),
        ("release", "force_release", b"{}", "operator request"),
        ("release", "force_release", b' {"reason":"stuck lab"} ', "stuck lab"),
    ],
)
async def test_operator_actions_enqueue_a_job_grouped_by_sandbox(
    gw: GatewayEnv, slug: str, job: str, content: bytes, reason: str
) -> None:
    response = await gw.client.post(
        f"/v1/admin/sandboxes/sbx-7/{slug}", headers=admin(), content=content
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["action"], body["status"]) == (job, "pending")
    assert response.headers["location"] == f"/v1/requests/{body['request_id']}"
    (message,) = await gw.receive(gw.settings.names.jobs_queue)
    assert message["Attributes"]["MessageGroupId"] == "sandbox:sbx-7"
    assert message["Attributes"]["MessageDeduplicationId"] == body["request_id"]
    parsed = ANY_MESSAGE.validate_json(message["Body"])
    assert (parsed.type, parsed.sandbox_id, parsed.reason) == (job, "sbx-7", reason)
    assert body_of(message)["requested_by"] == "admin"


@pytest.mark.parametrize(
    ("path", "headers", "content", "status"),
    [
        ("/v1/admin/sandboxes/sbx-7/retry", track(), b"", 403),
        ("/v1/admin/sandboxes/sbx-7/retry", {}, b"", 401),
        ("/v1/admin/sandboxes/a%20b/quarantine", admin(), b"", 400),
        ("/v1/admin/sandboxes/sbx-7/quarantine", admin(), b'{"reason": ""}', 400),
        ("/v1/admin/sandboxes/sbx-7/quarantine", admin(), b'{"reason": "a\\"b"}', 400),
        ("/v1/admin/sandboxes/sbx-7/quarantine", admin(), b'{"reason": "x", "y": 1}', 400),
        ("/v1/admin/sandboxes/sbx-7/quarantine", admin(), b'{"why": "x"}', 400),
        ("/v1/admin/sandboxes/sbx-7/release", admin(), b'{"reason": "' + b"r" * 501 + b'"}', 400),
        ("/v1/admin/sandboxes/sbx-7/release", admin(), b"x" * 20_000, 413),
        ("/v1/admin/sandboxes/sbx-7/explode", admin(), b"", 404),
    ],
)
async def test_bad_operator_requests_are_refused_and_nothing_enqueued(
    gw: GatewayEnv, path: str, headers: dict[str, str], content: bytes, status: int
) -> None:
    response = await gw.client.post(path, headers=headers, content=content)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    assert await gw.enqueued() == 0
