"""What one pool-table change means: lease events and history writes (pure, no I/O).

A DynamoDB Streams record (``NEW_AND_OLD_IMAGES``) of a sandbox item (``SBX#<id>``/``META``)
becomes zero or more events and history operations; every other item kind (pointers, lease
markers, waiters, history items, checkpoints) means nothing here. The same code runs in the
local reader (``sandbox-broker events``) and in the AWS stream Lambda, so both publish the
same events with the same ids.

| change of the sandbox item                        | events                |
|---------------------------------------------------|-----------------------|
| → allocated (or a new ``allocated_at``)            | lease.allocated       |
| allocated → allocated, later ``expires_at``        | lease.extended        |
| allocated → anything else                          | lease.released / expired / forced |
| → quarantined                                      | sandbox.quarantined   |
| → available (new, or back from stale)              | sandbox.returned      |
| removed                                            | sandbox.deleted       |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consumers.stores.history import CloseLease, ExtendLease, HistoryOp, OpenLease
from schemas.events import END_EVENTS, EventType, LeaseEnd, LeaseEvent, LeaseRecord, event_id
from schemas.ids import DEFAULT_TENANT
from schemas.items import from_item
from schemas.pool import SANDBOX_PK_PREFIX, SANDBOX_SK, SandboxStatus


@dataclass
class Meaning:
    events: list[LeaseEvent] = field(default_factory=list)
    history: list[HistoryOp] = field(default_factory=list)

    def extend(self, other: Meaning) -> None:
        self.events += other.events
        self.history += other.history


def _image(record: dict[str, Any], name: str) -> dict[str, Any] | None:
    image = record.get("dynamodb", {}).get(name)
    return from_item(image) if image else None


def _is_sandbox(image: dict[str, Any] | None) -> bool:
    return (
        image is not None
        and str(image.get("PK", "")).startswith(SANDBOX_PK_PREFIX)
        and image.get("SK") == SANDBOX_SK
    )


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _end_of(new: dict[str, Any] | None) -> LeaseEnd:
    if new is not None and new.get("lease_end") == "forced":
        return "forced"
    if new is not None and new.get("expired") is True:
        return "expired"
    return "released"


def _lease_event(kind: EventType, image: dict[str, Any], moment: float, **extra: Any) -> LeaseEvent:
    allocated_at = float(image.get("allocated_at") or 0)
    return LeaseEvent(
        id=event_id(str(image["sandbox_id"]), moment, kind.value),
        type=kind,
        time=moment,
        sandbox_id=str(image["sandbox_id"]),
        name=image.get("name"),
        tenant=image.get("tenant") or DEFAULT_TENANT,
        track_id=image.get("allocated_to_track"),
        track_name=image.get("track_name"),
        allocated_at=allocated_at,
        expires_at=_num(image.get("expires_at")),
        extensions=int(image.get("extensions") or 0) if "extensions" in image else None,
        **extra,
    )


def _sandbox_event(
    kind: EventType, image: dict[str, Any], moment: float, **extra: Any
) -> LeaseEvent:
    return LeaseEvent(
        id=event_id(str(image["sandbox_id"]), moment, kind.value),
        type=kind,
        time=moment,
        sandbox_id=str(image["sandbox_id"]),
        name=image.get("name"),
        **extra,
    )


def meaning(record: dict[str, Any], *, now: float) -> Meaning:
    """The events and history writes of one stream record (``now``: when the record has no
    time of its own, e.g. an item removed without ``updated_at``)."""
    old, new = _image(record, "OldImage"), _image(record, "NewImage")
    if not (_is_sandbox(old) or _is_sandbox(new)):
        return Meaning()
    if "sandbox_id" not in (new or old or {}):
        return Meaning()  # moto's first record of an upsert: the key alone
    out = Meaning()
    o_status = (old or {}).get("status")
    n_status = (new or {}).get("status")
    allocated = SandboxStatus.ALLOCATED.value
    o_at = _num((old or {}).get("allocated_at"))
    n_at = _num((new or {}).get("allocated_at"))
    # a lease ended (before a new one may start, on the same item)
    if o_status == allocated and old is not None and (n_status != allocated or n_at != o_at):
        end = _end_of(new) if n_status != allocated else "released"
        ended_at = _num((new or {}).get("updated_at")) or now
        assert o_at is not None
        kind = END_EVENTS[end]
        out.events.append(
            _lease_event(kind, old, o_at, ended_at=ended_at, end=end, reason=_reason(new, end))
        )
        out.history.append(CloseLease(str(old["sandbox_id"]), o_at, ended_at, end))
    if n_status == allocated and new is not None and (o_status != allocated or n_at != o_at):
        assert n_at is not None
        event = _lease_event(EventType.LEASE_ALLOCATED, new, n_at)
        out.events.append(event)
        out.history.append(
            OpenLease(
                LeaseRecord(
                    sandbox_id=event.sandbox_id,
                    tenant=event.tenant or DEFAULT_TENANT,
                    track_id=str(new.get("allocated_to_track") or ""),
                    track_name=event.track_name,
                    allocated_at=n_at,
                    expires_at=event.expires_at,
                )
            )
        )
    elif n_status == allocated == o_status and new is not None and old is not None:
        before, after = _num(old.get("expires_at")), _num(new.get("expires_at"))
        if after is not None and (before is None or after > before):
            assert n_at is not None
            # the moment of an extension is the expiry it set: one id per extension
            out.events.append(_lease_event(EventType.LEASE_EXTENDED, new, after))
            out.history.append(ExtendLease(str(new["sandbox_id"]), n_at, after))
    if new is not None and n_status != o_status:
        moment = _num(new.get("updated_at")) or now
        if n_status == SandboxStatus.QUARANTINED.value:
            reason = new.get("quarantine_reason")
            out.events.append(
                _sandbox_event(EventType.SANDBOX_QUARANTINED, new, moment, reason=reason)
            )
        elif n_status == SandboxStatus.AVAILABLE.value:
            out.events.append(_sandbox_event(EventType.SANDBOX_RETURNED, new, moment))
    if new is None and old is not None:
        moment = _num(old.get("updated_at")) or now
        out.events.append(_sandbox_event(EventType.SANDBOX_DELETED, old, moment))
    return out


def _reason(new: dict[str, Any] | None, end: LeaseEnd) -> str | None:
    if end == "forced" and new is not None:
        reason = new.get("operator_reason")
        return str(reason) if reason is not None else None
    return None
