"""GET routes read replies and the pool the way the consumers wrote them, and never Scan."""

from __future__ import annotations

import pytest

from schemas.errors import ErrorCode
from schemas.pool import SandboxStatus
from schemas.replies import ReplyError, ReplyRecord, ReplyStatus
from tests.integration.gateway.helpers import GatewayEnv, admin, make_sandbox, track

pytestmark = pytest.mark.integration


def _allocated_reply(request_id: str, track_id: str) -> ReplyRecord:
    return ReplyRecord(
        request_id=request_id,
        action="allocate",
        status=ReplyStatus.SUCCEEDED,
        result={
            "sandbox_id": "sbx-00001",
            "name": "lab-aws-00001",
            "external_id": "identity/accounts/00000000-0000-0000-0000-000000000001",
            "allocated_at": 1732345678.123,
            "expires_at": 1732361878.123,
            "idempotent": False,
        },
        completed_at=1732345678.456,
        track_id=track_id,
        created_at=1732345678.0,
        ttl=1732432078,
    )


async def test_a_missing_reply_reads_as_pending_with_retry_after(gw: GatewayEnv) -> None:
    response = await gw.client.get("/v1/requests/req_01NOTYETWRITTEN", headers=track("t-1"))
    assert response.status_code == 200
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "request_id": "req_01NOTYETWRITTEN",
        "action": "unknown",
        "status": "pending",
        "result": None,
        "error": None,
        "completed_at": None,
    }


async def test_the_owning_track_reads_its_reply_as_written(gw: GatewayEnv) -> None:
    await gw.put_reply(_allocated_reply("req_own", "t-1"))
    response = await gw.client.get("/v1/requests/req_own", headers=track("t-1"))
    assert response.status_code == 200
    assert "retry-after" not in response.headers
    assert response.json() == {
        "request_id": "req_own",
        "action": "allocate",
        "status": "succeeded",
        "result": {
            "sandbox_id": "sbx-00001",
            "name": "lab-aws-00001",
            "external_id": "identity/accounts/00000000-0000-0000-0000-000000000001",
            "allocated_at": 1732345678.123,
            "expires_at": 1732361878.123,
            "idempotent": False,
        },
        "error": None,
        "completed_at": 1732345678.456,
    }
    legacy = {"Authorization": track()["Authorization"], "X-Track-ID": "t-1"}
    assert (await gw.client.get("/v1/requests/req_own", headers=legacy)).status_code == 200


async def test_a_failed_reply_carries_its_code_and_no_result(gw: GatewayEnv) -> None:
    await gw.put_reply(
        ReplyRecord(
            request_id="req_empty",
            action="allocate",
            status=ReplyStatus.FAILED,
            error=ReplyError(
                code=ErrorCode.NO_SANDBOXES_AVAILABLE, message="none left", retry_after=30
            ),
            completed_at=1732345678.5,
            track_id="t-1",
        )
    )
    body = (await gw.client.get("/v1/requests/req_empty", headers=track("t-1"))).json()
    assert body["status"] == "failed" and body["result"] is None
    assert body["error"] == {
        "code": "NO_SANDBOXES_AVAILABLE",
        "message": "none left",
        "retry_after": 30,
    }


async def test_another_tracks_reply_is_404_like_an_unknown_route(gw: GatewayEnv) -> None:
    await gw.put_reply(_allocated_reply("req_theirs", "t-1"))
    response = await gw.client.get("/v1/requests/req_theirs", headers=track("t-2"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert "t-1" not in response.text and "sbx" not in response.text


async def test_the_admin_token_reads_any_reply_including_jobs(gw: GatewayEnv) -> None:
    await gw.put_reply(_allocated_reply("req_track", "t-1"))
    await gw.put_reply(
        ReplyRecord(
            request_id="req_job",
            action="cleanup",
            status=ReplyStatus.SUCCEEDED,
            result={"examined": 3, "changed": 2, "failed": 1},
            completed_at=1732345679.0,
        )
    )
    track_reply = await gw.client.get("/v1/requests/req_track", headers=admin())
    assert track_reply.status_code == 200 and track_reply.json()["action"] == "allocate"
    job = (await gw.client.get("/v1/requests/req_job", headers=admin())).json()
    assert (job["action"], job["result"]) == ("cleanup", {"examined": 3, "changed": 2, "failed": 1})
    # a job reply has no track: no track can read it
    assert (await gw.client.get("/v1/requests/req_job", headers=track("t-1"))).status_code == 404


async def test_a_sandbox_is_visible_to_its_owner_only(gw: GatewayEnv) -> None:
    owned = make_sandbox(1, SandboxStatus.ALLOCATED, track="t-1")
    await gw.put_sandbox(owned)
    await gw.put_sandbox(make_sandbox(2))  # available: nobody's
    response = await gw.client.get("/v1/sandboxes/sbx-00001", headers=track("t-1"))
    assert response.status_code == 200
    assert response.json() == {
        "sandbox_id": "sbx-00001",
        "name": "lab-aws-00001",
        "external_id": owned.external_id,
        "status": "allocated",
        "allocated_at": owned.allocated_at,
        "expires_at": owned.expires_at,
    }
    for path, track_id in [
        ("/v1/sandboxes/sbx-00001", "t-2"),  # someone else's
        ("/v1/sandboxes/sbx-00002", "t-1"),  # available
        ("/v1/sandboxes/sbx-99999", "t-1"),  # unknown
    ]:
        response = await gw.client.get(path, headers=track(track_id))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


SEEDED = {
    SandboxStatus.AVAILABLE: 7,
    SandboxStatus.ALLOCATED: 3,
    SandboxStatus.PENDING_DELETION: 0,
    SandboxStatus.STALE: 2,
    SandboxStatus.DELETION_FAILED: 1,
}


async def _seed(gw: GatewayEnv) -> list[str]:
    n, ids = 0, []
    for status, count in SEEDED.items():
        for _ in range(count):
            n += 1
            await gw.put_sandbox(make_sandbox(n, status, track=f"t-{n}"))
            ids.append(f"sbx-{n:05d}")
    return ids


async def test_stats_count_every_status_with_queries_not_a_scan(gw: GatewayEnv) -> None:
    await _seed(gw)
    response = await gw.client.get("/v1/admin/stats", headers=admin())
    assert response.status_code == 200
    assert response.json() == {
        "available": 7,
        "allocated": 3,
        "pending_deletion": 0,
        "stale": 2,
        "deletion_failed": 1,
        "quarantined": 0,
        "total": 13,
        "by_tenant": {"default": {"allocated": 0, "max_active": None}},
    }
    assert "scan" not in gw.ddb.calls
    # one COUNT per status, the tenants (one Query) and the default tenant's lease COUNT
    assert gw.ddb.calls.count("query") == len(SandboxStatus) + 2


async def _walk(gw: GatewayEnv, *, limit: int, status: str | None = None) -> list[list[dict]]:
    pages: list[list[dict]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if status:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        response = await gw.client.get("/v1/admin/sandboxes", headers=admin(), params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "paging does not end"


async def test_paging_without_a_status_walks_every_status_once_in_order(gw: GatewayEnv) -> None:
    ids = await _seed(gw)
    pages = await _walk(gw, limit=4)
    assert [len(p) for p in pages][:3] == [4, 4, 4]
    items = [item for page in pages for item in page]
    assert sorted(i["sandbox_id"] for i in items) == sorted(ids)  # all, each once
    order = [SandboxStatus(i["status"]) for i in items]
    assert order == sorted(order, key=list(SandboxStatus).index)
    allocated = next(i for i in items if i["status"] == "allocated")
    assert allocated["allocated_to_track"] == f"t-{allocated['sandbox_id'][-1]}"
    assert set(allocated) == {
        "sandbox_id",
        "name",
        "external_id",
        "status",
        "allocated_at",
        "expires_at",
        "allocated_to_track",
    }
    assert "scan" not in gw.ddb.calls


async def test_paging_one_status_round_trips_its_cursor(gw: GatewayEnv) -> None:
    await _seed(gw)
    pages = await _walk(gw, limit=3, status="available")
    items = [item for page in pages for item in page]
    assert len(items) == 7 and len({i["sandbox_id"] for i in items}) == 7
    assert {i["status"] for i in items} == {"available"}
    assert all(len(p) == 3 for p in pages[:2])
    one_page = await gw.client.get("/v1/admin/sandboxes", headers=admin(), params={"limit": 100})
    assert len(one_page.json()["items"]) == 13 and one_page.json()["next_cursor"] is None


async def test_a_forged_or_foreign_cursor_is_400(gw: GatewayEnv) -> None:
    await _seed(gw)
    first = await gw.client.get(
        "/v1/admin/sandboxes", headers=admin(), params={"limit": 2, "status": "available"}
    )
    cursor = first.json()["next_cursor"]
    payload, sig = cursor.split(".")
    for params in [
        {"cursor": cursor},  # made for status=available, used without it
        {"cursor": cursor, "status": "stale"},
        {"cursor": f"{payload}.{sig[::-1]}", "status": "available"},
        {"cursor": f"{payload[:-2]}.{sig}", "status": "available"},
        {"cursor": "eyJwIjowfQ.AAAAAAAAAAAAAAAAAAAAAA", "status": "available"},
    ]:
        response = await gw.client.get("/v1/admin/sandboxes", headers=admin(), params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "INVALID_REQUEST"
    again = await gw.client.get(
        "/v1/admin/sandboxes",
        headers=admin(),
        params={"cursor": cursor, "status": "available", "limit": 2},
    )
    assert again.status_code == 200
    assert [i["sandbox_id"] for i in again.json()["items"]] == ["sbx-00003", "sbx-00004"]
