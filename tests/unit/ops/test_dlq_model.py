"""Dead-letter model, selection, ordering and replay identities (no network)."""

from __future__ import annotations

import json
import re

from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from producers.ops import dlq
from producers.ops.dlq.replay import _unsupported
from schemas.names import ResourceNames

PAIR = dlq.dlq_pairs(ResourceNames.with_prefix("p-"), "requests")[0]


def raw(
    n: int,
    *,
    group: str = "g",
    type_: str | None = "allocate",
    request_id: str | None = None,
    reason: str | None = None,
    body: str | None = None,
) -> dict:
    attrs = {}
    rid = request_id or f"req_{n:04d}"
    if type_ is not None:
        attrs["type"] = {"DataType": "String", "StringValue": type_}
        attrs["schema_version"] = {"DataType": "String", "StringValue": "1"}
        attrs["request_id"] = {"DataType": "String", "StringValue": rid}
    if reason is not None:
        attrs[dlq.REJECT_REASON_ATTRIBUTE] = {"DataType": "String", "StringValue": reason}
    return {
        "MessageId": f"m-{n}",
        "ReceiptHandle": f"rh-{n}",
        "Body": body if body is not None else json.dumps({"type": "allocate", "request_id": rid}),
        "MessageAttributes": attrs,
        "Attributes": {
            "MessageGroupId": group,
            "ApproximateReceiveCount": "3",
            "SentTimestamp": "1000000",
        },
    }


def test_pairs_follow_the_resource_names() -> None:
    names = ResourceNames.with_prefix("p-")
    assert dlq.dlq_pairs(names) == [
        dlq.DlqPair("requests", names.requests_dlq, names.requests_queue),
        dlq.DlqPair("jobs", names.jobs_dlq, names.jobs_queue),
    ]
    assert [p.kind for p in dlq.dlq_pairs(names, "jobs")] == ["jobs"]


def test_reason_comes_from_the_reject_attribute_and_fields_from_attributes() -> None:
    letter = dlq.DeadLetter.from_sqs(PAIR, raw(1, reason="handler raised KeyError"))
    assert letter.reason == "handler raised KeyError"
    assert letter.reason_source == "attribute"
    assert (letter.request_id, letter.type, letter.group) == ("req_0001", "allocate", "g")
    assert letter.receive_count == 3
    assert letter.age_s(1_010.5) == 10.5


def test_without_attributes_fields_are_read_from_the_body_and_reason_is_unknown() -> None:
    letter = dlq.DeadLetter.from_sqs(PAIR, raw(2, type_=None, request_id="req_body"))
    assert (letter.request_id, letter.type, letter.reason) == ("req_body", "allocate", None)
    garbage = dlq.DeadLetter.from_sqs(PAIR, raw(3, type_=None, body="not json {"))
    assert (garbage.request_id, garbage.type) == (None, None)
    assert garbage.detail(0)["body"] == "not json {"


def test_selector_matches_every_given_field() -> None:
    a = dlq.DeadLetter.from_sqs(PAIR, raw(1, group="t1", type_="allocate"))
    r = dlq.DeadLetter.from_sqs(PAIR, raw(2, group="t1", type_="release"))
    b = dlq.DeadLetter.from_sqs(PAIR, raw(3, group="t2", type_="allocate"))
    letters = [a, r, b]

    def pick(**kw: str) -> list[str]:
        return [lt.message_id for lt in letters if dlq.Selector(**kw).matches(lt)]

    assert pick() == ["m-1", "m-2", "m-3"]
    assert pick(type_="allocate") == ["m-1", "m-3"]
    assert pick(group="t1") == ["m-1", "m-2"]
    assert pick(group="t1", type_="allocate") == ["m-1"]
    assert pick(ident="req_0002") == ["m-2"]
    assert pick(ident="m-3") == ["m-3"]
    assert pick(type_="sync") == []


@given(st.lists(st.sampled_from("abcd"), max_size=40))
def test_by_group_keeps_every_message_and_the_order_within_each_group(groups: list[str]) -> None:
    letters = [dlq.DeadLetter.from_sqs(PAIR, raw(i, group=g)) for i, g in enumerate(groups)]
    grouped = dlq.by_group(letters)
    assert [g for g, _ in grouped] == list(dict.fromkeys(groups))
    for group, members in grouped:
        assert members == [lt for lt in letters if lt.group == group]
    assert sum(len(m) for _, m in grouped) == len(letters)


def test_replay_dedup_ids_are_fresh_traceable_and_valid() -> None:
    letter = dlq.DeadLetter.from_sqs(PAIR, raw(1, request_id="req_" + "x" * 60))
    ids = {dlq.replay_dedup_id(letter) for _ in range(50)}
    assert len(ids) == 50
    for dedup in ids:
        assert dedup.startswith(f"{letter.request_id}:replay:")
        assert len(dedup) <= 128  # SQS's limit
        assert re.fullmatch(r"[A-Za-z0-9!-/:-@\[-`{-~]+", dedup)
    odd = dlq.DeadLetter.from_sqs(PAIR, raw(2, type_=None, body="{}"))
    assert dlq.replay_dedup_id(odd).startswith("m-2:replay:"), "no request id: the message id"


def test_replay_keeps_routing_attributes_and_drops_the_stale_reason() -> None:
    letter = dlq.DeadLetter.from_sqs(PAIR, raw(1, reason="boom"))
    assert dlq.replay_attributes(letter) == {
        "type": {"DataType": "String", "StringValue": "allocate"},
        "schema_version": {"DataType": "String", "StringValue": "1"},
        "request_id": {"DataType": "String", "StringValue": "req_0001"},
    }


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "StartMessageMoveTask",
    )


def test_unsupported_move_task_is_told_apart_from_transient_failures() -> None:
    assert _unsupported(_client_error("500", 500)), "moto: a bare 500 page"
    assert _unsupported(_client_error("InvalidAction", 400))
    assert _unsupported(_client_error("NotImplemented", 501))
    assert not _unsupported(_client_error("InternalError", 500)), "AWS: transient"
    assert not _unsupported(_client_error("AccessDenied", 403))


def test_the_reason_attribute_is_the_one_the_broker_writes() -> None:
    from faststream_sqs.subscriber.settler import REJECT_REASON_ATTRIBUTE

    assert dlq.REJECT_REASON_ATTRIBUTE == REJECT_REASON_ATTRIBUTE
