"""The admin checks of a smoke run (with ``--admin-token``): stats, pages, a forged
cursor, and the admin reading any reply."""

from __future__ import annotations

from typing import Final

from producers.smoke.session import Deviation, Session, Skipped

STAT_COUNTS: Final = (
    "available",
    "allocated",
    "pending_deletion",
    "stale",
    "deletion_failed",
    "quarantined",
)


async def admin_checks(s: Session, *, allocate_request: str | None) -> None:
    """Stats, pages with a real and a forged cursor, any reply (with ``--admin-token``)."""
    checks = (
        ("admin stats", "GET /v1/admin/stats"),
        ("admin pages", "GET /v1/admin/sandboxes"),
        ("admin forged cursor", "GET /v1/admin/sandboxes"),
        ("admin reads any reply", "GET /v1/requests/{request_id}"),
    )
    if not s.o.admin_token:
        for name, route in checks:
            s.skip(name, route, "no --admin-token given")
        return
    admin = s.o.admin_token

    async def stats() -> str:
        response = await s.send("GET", "/v1/admin/stats", s.headers(token=admin))
        s.conforms(response, 200)
        body = s.json_of(response)
        counts = [body.get(k) for k in STAT_COUNTS]
        if not all(isinstance(c, int) for c in counts) or not isinstance(body.get("total"), int):
            raise Deviation(f"counts {body}")
        if body["total"] != sum(counts):
            raise Deviation(f"total {body['total']} is not the sum {sum(counts)}")
        if not isinstance(body.get("by_tenant", {}), dict):
            raise Deviation("by_tenant is not an object")
        return f"{body['available']} available of {body['total']}"

    async def pages() -> str:
        response = await s.send(
            "GET", "/v1/admin/sandboxes", s.headers(token=admin), params={"limit": "1"}
        )
        s.conforms(response, 200)
        page = s.json_of(response)
        if set(page) != {"items", "next_cursor"} or len(page["items"]) > 1:
            raise Deviation(f"page {str(page)[:200]}")
        if page["next_cursor"]:
            response = await s.send(
                "GET",
                "/v1/admin/sandboxes",
                s.headers(token=admin),
                params={"limit": "1", "cursor": page["next_cursor"]},
            )
            s.conforms(response, 200)
            return "two pages"
        return "one page"

    async def forged() -> str:
        response = await s.send(
            "GET",
            "/v1/admin/sandboxes",
            s.headers(token=admin),
            params={"cursor": "c21va2U.Zm9yZ2Vk"},
        )
        s.conforms(response, 400, "INVALID_REQUEST")
        return ""

    async def any_reply() -> str:
        if allocate_request is None:
            raise Skipped("no request was accepted")
        response = await s.send("GET", f"/v1/requests/{allocate_request}", s.headers(token=admin))
        s.conforms(response, 200)
        if s.json_of(response).get("status") != "succeeded":
            raise Deviation(f"status {response.json().get('status')}")
        return ""

    for (name, route), body in zip(checks, (stats, pages, forged, any_reply), strict=True):
        await s.check(name, route, body)
