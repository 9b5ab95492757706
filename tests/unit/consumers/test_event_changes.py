"""What a pool-table stream record means (consumers/events/changes.py), record by record."""

from __future__ import annotations

from typing import Any

from consumers.events.changes import meaning
from consumers.stores.history import CloseLease, ExtendLease, OpenLease
from schemas.events import event_id
from schemas.items import to_item


def record(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if old is not None:
        body["OldImage"] = to_item(old)
    if new is not None:
        body["NewImage"] = to_item(new)
    return {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "1", **body}}


def sandbox(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "PK": "SBX#s1",
        "SK": "META",
        "sandbox_id": "s1",
        "name": "lab-1",
        "status": status,
        **extra,
    }


LEASE = {"allocated_to_track": "t1", "allocated_at": 100.5, "expires_at": 200.5}


def types(m) -> list[str]:
    return [e.type.value for e in m.events]


def test_other_items_and_key_only_images_mean_nothing() -> None:
    pointer = {"PK": "TRACK#t1", "SK": "CURRENT", "sandbox_id": "s1"}
    history = {"PK": "HIST#s1", "SK": "LEASE#1", "track_id": "t1"}
    # a deleted sandbox's tombstone: written with the removal, rewritten, expired by TTL
    tomb = {"PK": "DELETED#s1", "SK": "META", "sandbox_id": "s1", "deleted_at": 5.0, "ttl": 9}
    later = {**tomb, "deleted_at": 6.0}
    for old, new in [
        (None, pointer),
        (history, None),
        (None, {"PK": "SBX#s1", "SK": "META"}),
        (None, tomb),
        (tomb, later),
        (later, None),
    ]:
        m = meaning(record(old, new), now=1.0)
        assert m.events == [] and m.history == []


def test_a_claim_opens_a_lease_with_a_deterministic_id() -> None:
    m = meaning(record(sandbox("available"), sandbox("allocated", **LEASE)), now=1.0)
    assert types(m) == ["lease.allocated"]
    (event,) = m.events
    assert event.id == event_id("s1", 100.5, "lease.allocated")
    assert (event.track_id, event.tenant, event.allocated_at) == ("t1", "default", 100.5)
    (op,) = m.history
    assert isinstance(op, OpenLease) and op.lease.track_id == "t1"
    again = meaning(record(sandbox("available"), sandbox("allocated", **LEASE)), now=9.0)
    assert [e.id for e in again.events] == [event.id]  # a redelivery: the same id


def test_ends_are_told_apart_by_the_item() -> None:
    held = sandbox("allocated", **LEASE)
    cases = {
        "released": sandbox("pending_deletion", **LEASE, updated_at=150.0),
        "expired": sandbox("pending_deletion", **LEASE, updated_at=150.0, expired=True),
        "forced": sandbox(
            "pending_deletion", **LEASE, updated_at=150.0, lease_end="forced", operator_reason="x"
        ),
    }
    for end, after in cases.items():
        m = meaning(record(held, after), now=1.0)
        assert types(m) == [f"lease.{end}"]
        assert (m.events[0].end, m.events[0].ended_at) == (end, 150.0)
        assert m.events[0].reason == ("x" if end == "forced" else None)
        assert m.history == [CloseLease("s1", 100.5, 150.0, end)]  # type: ignore[arg-type]


def test_an_extension_and_a_direct_reallocation() -> None:
    held = sandbox("allocated", **LEASE)
    later = sandbox("allocated", **{**LEASE, "expires_at": 300.5})
    m = meaning(record(held, later), now=1.0)
    assert types(m) == ["lease.extended"]
    assert m.history == [ExtendLease("s1", 100.5, 300.5)]
    assert meaning(record(later, later), now=1.0).events == []  # nothing moved
    other = sandbox("allocated", allocated_to_track="t2", allocated_at=400.0, expires_at=500.0)
    m = meaning(record(held, other), now=1.0)
    assert types(m) == ["lease.released", "lease.allocated"]


def test_sandbox_events() -> None:
    quarantined = sandbox("quarantined", updated_at=5.0, quarantine_reason="bad")
    m = meaning(record(sandbox("deletion_failed"), quarantined), now=1.0)
    assert types(m) == ["sandbox.quarantined"] and m.events[0].reason == "bad"
    assert types(meaning(record(None, sandbox("available", updated_at=2.0)), now=1.0)) == [
        "sandbox.returned"
    ]
    assert types(meaning(record(sandbox("stale"), sandbox("available")), now=1.0)) == [
        "sandbox.returned"
    ]
    gone = meaning(record(sandbox("pending_deletion", updated_at=7.0), None), now=1.0)
    assert types(gone) == ["sandbox.deleted"]
    assert gone.events[0].id == event_id("s1", 7.0, "sandbox.deleted")
