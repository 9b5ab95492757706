"""API Gateway's mapping templates, rendered with airspeed, build exactly the contract's messages.

(Over 400 lines: one case table per template, and the templates are one unit under test.)

The templates are taken from the evaluated Terraform (what API Gateway would receive), not
from the .vtl files directly, so the Terraform wiring is under test too. The expected
message is what the local gateway enqueues for the same request:
``AllocateMessage(request_id=..., track_id=..., ...).model_dump_json()``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.errors import ErrorCode
from schemas.ids import is_header_value
from schemas.items import reply_item
from schemas.messages import (
    ADMIN_JOBS,
    ADMIN_SANDBOX_ACTIONS,
    ANY_MESSAGE,
    JOB_MESSAGE,
    AllocateMessage,
    ExtendMessage,
    ReleaseMessage,
    message_attributes,
)
from schemas.replies import Accepted, Reply, ReplyError, ReplyRecord, ReplyStatus
from tests.infra.plan import APIGW_DIR, by_key, one, plan
from tests.infra.vtl import FakeInput, render, send_message_params
from tests.infra.vtl import message_attributes as form_attributes

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
#: 2026-11-23T12:00:00.123Z
EPOCH_MS = 1_795_435_200_123
TRACK = {"role": "track"}
ADMIN = {"role": "admin"}


@pytest.fixture(scope="module")
def api() -> Any:
    return plan().child("api_gateway")


@pytest.fixture(scope="module")
def request_templates(api: Any) -> dict[str, str]:
    integrations = by_key(api, "aws_api_gateway_integration", "enqueue")
    templates = {k: i.get("request_templates") for k, i in integrations.items()}
    for route, by_type in templates.items():
        # Every accepted content type gets the same template.
        assert len(set(by_type.values())) == 1, route
    return {k: v["application/json"] for k, v in templates.items()}


def _enqueue(
    template: str,
    *,
    headers: dict[str, str],
    body: str = "",
    path: dict[str, str] | None = None,
    epoch_ms: int = EPOCH_MS,
) -> dict[str, str]:
    rendered = render(
        template,
        input=FakeInput(headers=headers, body=body, path=path),
        request_id=REQUEST_ID,
        request_time_epoch_ms=epoch_ms,
        authorizer=TRACK,
    )
    assert "\n" not in rendered.body and not rendered.body.startswith(" "), repr(rendered.body)
    return send_message_params(rendered.body)


def _accepted(params: dict[str, str]) -> bool:
    return params.get("Action") == "SendMessage" and "MessageBody" in params


def _comparable(body: str) -> dict[str, Any]:
    parsed = json.loads(body)
    parsed.pop("request_id")
    parsed.pop("requested_at")
    return parsed


# ---------------------------------------------------------------------------------------
# POST /v1/allocate
# ---------------------------------------------------------------------------------------

ALLOCATE_CASES = [
    # (headers, expected AllocateMessage fields)
    ({"X-Instruqt-Sandbox-ID": "inst-123"}, {"track_id": "inst-123"}),
    ({"x-instruqt-sandbox-id": "inst-123"}, {"track_id": "inst-123"}),  # HTTP/2: lower case
    ({"X-Track-ID": "legacy-1"}, {"track_id": "legacy-1"}),
    (
        {"X-Instruqt-Sandbox-ID": "inst-1", "X-Track-ID": "legacy-1"},
        {"track_id": "inst-1"},
    ),
    (
        {"X-Instruqt-Sandbox-ID": "inst-1", "X-Track-ID": 'not valid " at all'},
        {"track_id": "inst-1"},  # the legacy header is ignored, even when malformed
    ),
    ({"X-Instruqt-Sandbox-ID": "", "X-Track-ID": "legacy-2"}, {"track_id": "legacy-2"}),
    (
        {
            "X-Instruqt-Sandbox-ID": "inst-9",
            "X-Instruqt-Track-ID": "aws-lab:v2",
            "X-Sandbox-Name-Prefix": "lab-a.",
            "Idempotency-Key": "k@1",
        },
        {
            "track_id": "inst-9",
            "track_name": "aws-lab:v2",
            "name_prefix": "lab-a.",
            "idempotency_key": "k@1",
        },
    ),
    (
        {
            "X-Instruqt-Sandbox-ID": "inst-9",
            "X-Instruqt-Track-ID": "",
            "X-Sandbox-Name-Prefix": "",
            "Idempotency-Key": "",
        },
        {"track_id": "inst-9"},  # empty optional headers count as absent
    ),
    (
        {"X-Instruqt-Sandbox-ID": "a" * 128, "X-Sandbox-Name-Prefix": "p" * 64},
        {"track_id": "a" * 128, "name_prefix": "p" * 64},
    ),
]


@pytest.mark.parametrize(("headers", "fields"), ALLOCATE_CASES)
def test_allocate_enqueues_what_the_local_gateway_enqueues(
    request_templates: dict[str, str], headers: dict[str, str], fields: dict[str, str]
) -> None:
    params = _enqueue(request_templates["allocate"], headers=headers)
    body = params["MessageBody"]
    message = AllocateMessage.model_validate_json(body)  # validates against the schema
    local = AllocateMessage(request_id="req_01JDXYZ", **fields).model_dump_json()
    assert _comparable(body) == _comparable(local)
    assert message.request_id == REQUEST_ID
    assert params["MessageGroupId"] == fields["track_id"]
    assert params["MessageDeduplicationId"] == REQUEST_ID
    assert form_attributes(params) == {
        k: ("String", v) for k, v in message_attributes(message, type_="allocate").items()
    }


def test_requested_at_is_the_request_time_in_iso_utc_with_z(
    request_templates: dict[str, str],
) -> None:
    params = _enqueue(request_templates["allocate"], headers={"X-Track-ID": "t1"})
    raw = json.loads(params["MessageBody"])["requested_at"]
    assert raw == "2026-11-23T12:00:00.123Z"
    assert AllocateMessage.model_validate_json(params["MessageBody"]).requested_at == datetime(
        2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC
    )


@settings(max_examples=150, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2199, 12, 31, 23, 59, 59, 999000)
    )
)
def test_requested_at_arithmetic_agrees_with_python_for_any_time(
    request_templates: dict[str, str], moment: datetime
) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=UTC)
    epoch_ms = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    params = _enqueue(
        request_templates["allocate"], headers={"X-Track-ID": "t1"}, epoch_ms=epoch_ms
    )
    expected = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert json.loads(params["MessageBody"])["requested_at"] == expected


# ---------------------------------------------------------------------------------------
# POST /v1/sandboxes/{sandbox_id}/mark-for-deletion
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Instruqt-Sandbox-ID": "inst-1"},
        {"X-Track-ID": "legacy-1", "X-Instruqt-Track-ID": "lab", "Idempotency-Key": "abc"},
    ],
)
def test_release_enqueues_what_the_local_gateway_enqueues(
    request_templates: dict[str, str], headers: dict[str, str]
) -> None:
    params = _enqueue(request_templates["release"], headers=headers, path={"sandbox_id": "2012220"})
    message = ReleaseMessage.model_validate_json(params["MessageBody"])
    track_id = headers.get("X-Instruqt-Sandbox-ID") or headers["X-Track-ID"]
    local = ReleaseMessage(
        request_id="req_01JDXYZ",
        track_id=track_id,
        sandbox_id="2012220",
        track_name=headers.get("X-Instruqt-Track-ID"),
        idempotency_key=headers.get("Idempotency-Key"),
    ).model_dump_json()
    assert _comparable(params["MessageBody"]) == _comparable(local)
    assert params["MessageGroupId"] == track_id
    assert params["MessageDeduplicationId"] == REQUEST_ID == message.request_id
    assert form_attributes(params)["type"] == ("String", "release")


@pytest.mark.parametrize("sandbox_id", ["", "a b", "x" * 129, "../admin", 'a"b', "é"])
def test_release_refuses_a_malformed_sandbox_id(
    request_templates: dict[str, str], sandbox_id: str
) -> None:
    params = _enqueue(
        request_templates["release"], headers={"X-Track-ID": "t"}, path={"sandbox_id": sandbox_id}
    )
    assert not _accepted(params)


# ---------------------------------------------------------------------------------------
# v2: POST /v1/sandboxes/{sandbox_id}/extend and X-Wait-For-Sandbox-S on allocate
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("60", 60),
                                                  ("3600", 3600), ("86400", 86_400)])  # fmt: skip
def test_extend_enqueues_the_extend_message(
    request_templates: dict[str, str], value: str | None, expected: int | None
) -> None:
    headers = {"X-Instruqt-Sandbox-ID": "inst-1"}
    if value is not None:
        headers["X-Extend-By-S"] = value
    params = _enqueue(request_templates["extend"], headers=headers, path={"sandbox_id": "2012220"})
    message = ExtendMessage.model_validate_json(params["MessageBody"])
    local = ExtendMessage(
        request_id="req_01JDXYZ", track_id="inst-1", sandbox_id="2012220", extend_by_s=expected
    ).model_dump_json()
    assert _comparable(params["MessageBody"]) == _comparable(local)
    assert params["MessageGroupId"] == "inst-1"
    assert params["MessageDeduplicationId"] == REQUEST_ID == message.request_id
    assert form_attributes(params)["type"] == ("String", "extend")


@pytest.mark.parametrize("value", ["59", "86401", "0", "-60", "060", "abc", "1e4"])
def test_extend_refuses_a_bad_extension(request_templates: dict[str, str], value: str) -> None:
    params = _enqueue(
        request_templates["extend"],
        headers={"X-Track-ID": "t", "X-Extend-By-S": value},
        path={"sandbox_id": "2012220"},
    )
    assert not _accepted(params)


@pytest.mark.parametrize(("value", "expected"), [("", 0), ("0", 0), ("30", 30), ("900", 900)])
def test_allocate_carries_the_wait(
    request_templates: dict[str, str], value: str, expected: int
) -> None:
    params = _enqueue(
        request_templates["allocate"], headers={"X-Track-ID": "t", "X-Wait-For-Sandbox-S": value}
    )
    assert AllocateMessage.model_validate_json(params["MessageBody"]).wait_for_sandbox_s == expected


@pytest.mark.parametrize("value", ["901", "-1", "05", "1.5", "abc", " 5"])
def test_allocate_refuses_a_bad_wait(request_templates: dict[str, str], value: str) -> None:
    params = _enqueue(
        request_templates["allocate"], headers={"X-Track-ID": "t", "X-Wait-For-Sandbox-S": value}
    )
    assert not _accepted(params)


# ---------------------------------------------------------------------------------------
# POST /v1/admin/{sync,cleanup,expire,delete-stale}
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "job"), sorted(ADMIN_JOBS.items()))
def test_admin_job_routes_enqueue_the_job_message(
    request_templates: dict[str, str], slug: str, job: str
) -> None:
    params = _enqueue(request_templates[f"admin-{slug}"], headers={})
    message = JOB_MESSAGE.validate_json(params["MessageBody"])
    assert message.type == job
    assert message.requested_by == "admin"
    assert message.request_id == REQUEST_ID == params["MessageDeduplicationId"]
    assert params["MessageGroupId"] == job
    assert form_attributes(params)["type"] == ("String", job)


def test_admin_job_routes_go_to_the_job_queue_and_track_routes_to_the_request_queue(
    api: Any,
) -> None:
    uris = {
        k: i.get("uri") for k, i in by_key(api, "aws_api_gateway_integration", "enqueue").items()
    }
    for route, uri in uris.items():
        queue = "sandbox-jobs.fifo" if route.startswith("admin-") else "sandbox-requests.fifo"
        assert uri.endswith(f":sqs:path/{api.account.account_id}/{queue}"), (route, uri)


# ---------------------------------------------------------------------------------------
# Rules: headers and bodies
# ---------------------------------------------------------------------------------------

REFUSED_HEADERS = [
    {},  # no track id at all
    {"X-Instruqt-Sandbox-ID": ""},
    {"X-Instruqt-Sandbox-ID": "a" * 129},
    {"X-Instruqt-Sandbox-ID": "has space"},
    {"X-Instruqt-Sandbox-ID": "bad/char", "X-Track-ID": "fine"},  # preferred wins, is bad
    {"X-Track-ID": "ok", "X-Instruqt-Track-ID": "t" * 129},
    {"X-Track-ID": "ok", "X-Sandbox-Name-Prefix": "p" * 65},
    {"X-Track-ID": "ok", "Idempotency-Key": "key with space"},
    {"X-Track-ID": "ok, ok"},  # a header sent twice, joined by the client
]


@pytest.mark.parametrize("headers", REFUSED_HEADERS)
def test_headers_breaking_the_rules_are_not_enqueued(
    request_templates: dict[str, str], headers: dict[str, str]
) -> None:
    for route in ("allocate", "release"):
        params = _enqueue(request_templates[route], headers=headers, path={"sandbox_id": "s1"})
        assert params == {"Action": "SendMessage"}, route  # no MessageBody: SQS refuses


@pytest.mark.parametrize("body", ["", "{}", " { } ", "\n", "{\n}\n", "\t{}\r\n"])
def test_empty_or_empty_object_bodies_are_accepted(
    request_templates: dict[str, str], body: str
) -> None:
    for route in ("allocate", "admin-sync"):
        assert _accepted(_enqueue(request_templates[route], headers={"X-Track-ID": "t"}, body=body))


@pytest.mark.parametrize("body", ["x", "[]", "null", '{"a": 1}', "{}{}", "{ x }", "{}}"])
def test_other_bodies_are_refused(request_templates: dict[str, str], body: str) -> None:
    for route in ("allocate", "release", "admin-cleanup"):
        params = _enqueue(
            request_templates[route],
            headers={"X-Track-ID": "t"},
            body=body,
            path={"sandbox_id": "s"},
        )
        assert params == {"Action": "SendMessage"}, route


def test_a_body_over_16_kib_is_refused_as_too_large(request_templates: dict[str, str]) -> None:
    params = _enqueue(request_templates["allocate"], headers={"X-Track-ID": "t"}, body=" " * 16385)
    assert params == {"Action": "RejectPayloadTooLarge"}


HOSTILE = [
    '"}',
    '", "track_id": "evil',
    "back\\slash",
    "new\nline",
    "tab\there",
    "uni\u00e9code",
    "line\u2028sep",
    "emoji\U0001f600",
    "&MessageGroupId=evil",
    "a%26b",
    "$context.requestId",
    "#set($trackId = 'evil')",
    "'single'",
    "<script>",
    "x" * 5000,
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    "header",
    [
        "X-Instruqt-Sandbox-ID",
        "X-Track-ID",
        "X-Instruqt-Track-ID",
        "X-Sandbox-Name-Prefix",
        "Idempotency-Key",
    ],
)
def test_hostile_header_values_cannot_break_out_of_the_message(
    request_templates: dict[str, str], header: str, value: str
) -> None:
    headers = {"X-Track-ID": "t1", header: value}
    for route in ("allocate", "release"):
        params = _enqueue(request_templates[route], headers=headers, path={"sandbox_id": "s1"})
        _assert_refused_or_literal(params, header, value)


@settings(max_examples=200, deadline=None)
@given(value=st.text(min_size=1, max_size=140))
def test_any_track_id_is_refused_or_carried_literally(
    request_templates: dict[str, str], value: str
) -> None:
    params = _enqueue(request_templates["allocate"], headers={"X-Instruqt-Sandbox-ID": value})
    _assert_refused_or_literal(params, "X-Instruqt-Sandbox-ID", value)
    assert _accepted(params) == is_header_value(value)


def _assert_refused_or_literal(params: dict[str, str], header: str, value: str) -> None:
    if not _accepted(params):
        return
    body = json.loads(params["MessageBody"])  # still one JSON object
    message = ANY_MESSAGE.validate_python(body)
    field = {
        "X-Instruqt-Sandbox-ID": "track_id",
        "X-Track-ID": "track_id",
        "X-Instruqt-Track-ID": "track_name",
        "X-Sandbox-Name-Prefix": "name_prefix",
        "Idempotency-Key": "idempotency_key",
    }[header]
    if field in body and (header != "X-Track-ID" or body.get("track_id") == value):
        assert body[field] == value
    assert message.request_id == REQUEST_ID
    assert params["MessageDeduplicationId"] == REQUEST_ID


# ---------------------------------------------------------------------------------------
# Answers of the POST routes
# ---------------------------------------------------------------------------------------


def test_accepted_answer_is_the_contract_202(api: Any) -> None:
    responses = by_key(api, "aws_api_gateway_integration_response", "enqueue_accepted")
    for route, response in responses.items():
        config = response.config()
        assert config["status_code"] == "202"
        assert "selection_pattern" not in config  # the default: SQS answered 200
        assert config["response_parameters"]["method.response.header.Retry-After"] == "'1'"
        rendered = render(
            config["response_templates"]["application/json"],
            input=FakeInput(body="<xml/>"),
            request_id=REQUEST_ID,
        )
        body = json.loads(rendered.body)
        accepted = Accepted.model_validate(body)
        assert body == {
            "request_id": REQUEST_ID,
            "action": accepted.action,
            "status": "pending",
            "poll": f"/v1/requests/{REQUEST_ID}",
        }
        track_actions = {"allocate": "allocate", "release": "release", "extend": "extend"}
        expected_action = (
            track_actions.get(route)
            or {
                **ADMIN_JOBS,
                **{f"sandbox-{k}": v for k, v in ADMIN_SANDBOX_ACTIONS.items()},
            }[route.removeprefix("admin-")]
        )
        assert accepted.action == expected_action
        assert rendered.headers == {"Location": f"/v1/requests/{REQUEST_ID}"}


SQS_ERROR = (
    '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">'
    "<Error><Type>Sender</Type><Code>{code}</Code><Message>m</Message></Error>"
    "<RequestId>r</RequestId></ErrorResponse>"
)


@pytest.mark.parametrize(
    ("sqs_code", "status", "code"),
    [
        ("MissingParameter", None, "INVALID_REQUEST"),
        ("InvalidAction", 413, "PAYLOAD_TOO_LARGE"),
        ("AccessDenied", 503, "QUEUE_UNAVAILABLE"),
        ("AWS.SimpleQueueService.NonExistentQueue", 503, "QUEUE_UNAVAILABLE"),
    ],
)
def test_sqs_refusals_become_contract_errors(
    api: Any, sqs_code: str, status: int | None, code: str
) -> None:
    response = by_key(api, "aws_api_gateway_integration_response", "enqueue_rejected")[
        "allocate"
    ].config()
    assert response["status_code"] == "400"
    assert response["selection_pattern"] == "4\\d{2}"
    rendered = render(
        response["response_templates"]["application/json"],
        input=FakeInput(body=SQS_ERROR.format(code=sqs_code)),
    )
    assert rendered.status == status
    assert json.loads(rendered.body)["error"]["code"] == code


def test_sqs_5xx_is_queue_unavailable(api: Any) -> None:
    response = by_key(api, "aws_api_gateway_integration_response", "enqueue_failed")[
        "allocate"
    ].config()
    assert response["status_code"] == "503"
    assert response["selection_pattern"] == "5\\d{2}"
    rendered = render(response["response_templates"]["application/json"], input=FakeInput())
    assert json.loads(rendered.body)["error"]["code"] == "QUEUE_UNAVAILABLE"


# ---------------------------------------------------------------------------------------
# GET /v1/requests/{request_id}
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reply_templates(api: Any) -> dict[str, str]:
    return {
        "request": one(api, "aws_api_gateway_integration", "get_reply").get("request_templates")[
            "application/json"
        ],
        "found": one(api, "aws_api_gateway_integration_response", "get_reply_found").get(
            "response_templates"
        )["application/json"],
        "rejected": one(api, "aws_api_gateway_integration_response", "get_reply_rejected").get(
            "response_templates"
        )["application/json"],
    }


def _get_item(
    template: str, *, request_id: str, headers: dict[str, str], role: dict[str, str]
) -> dict[str, Any]:
    rendered = render(
        template, input=FakeInput(headers=headers, path={"request_id": request_id}), authorizer=role
    )
    return json.loads(rendered.body)


def test_get_reply_reads_the_reply_table_strongly_consistent(
    reply_templates: dict[str, str],
) -> None:
    call = _get_item(
        reply_templates["request"], request_id="req_01ABC", headers={"X-Track-ID": "t1"}, role=TRACK
    )
    assert call == {
        "TableName": "sandbox-replies",
        "Key": {"request_id": {"S": "req_01ABC"}},
        "ConsistentRead": True,
    }
    # The admin token needs no track header.
    assert (
        _get_item(reply_templates["request"], request_id="req_01ABC", headers={}, role=ADMIN)
        == call
    )


@pytest.mark.parametrize(
    ("request_id", "headers", "role"),
    [
        ("req_01ABC", {}, TRACK),  # a track must name itself
        ("req_01ABC", {"X-Track-ID": "bad value"}, TRACK),
        ("has space", {"X-Track-ID": "t1"}, TRACK),
        ("x" * 65, {}, ADMIN),
        ('a"}', {}, ADMIN),
        ("a.b", {}, ADMIN),  # request ids are [A-Za-z0-9_-]
    ],
)
def test_get_reply_refuses_malformed_requests(
    reply_templates: dict[str, str], request_id: str, headers: dict[str, str], role: dict[str, str]
) -> None:
    call = _get_item(reply_templates["request"], request_id=request_id, headers=headers, role=role)
    assert call["Key"] == {}  # DynamoDB answers ValidationException
    rendered = render(
        reply_templates["rejected"],
        input=FakeInput(
            body='{"__type":"com.amazon.coral.validate#ValidationException","message":"m"}'
        ),
    )
    assert rendered.status is None
    assert json.loads(rendered.body)["error"]["code"] == "INVALID_REQUEST"


def test_other_dynamodb_refusals_are_unavailable(reply_templates: dict[str, str]) -> None:
    rendered = render(
        reply_templates["rejected"],
        input=FakeInput(
            body='{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}'
        ),
    )
    assert rendered.status == 503
    assert json.loads(rendered.body)["error"]["code"] == "QUEUE_UNAVAILABLE"


def _answer(
    template: str,
    *,
    item: dict[str, Any] | None,
    headers: dict[str, str],
    role: dict[str, str],
    request_id: str = "req_01ABC",
) -> tuple[int | None, Any]:
    body = json.dumps({"Item": item} if item is not None else {})
    rendered = render(
        template,
        input=FakeInput(body=body, headers=headers, path={"request_id": request_id}),
        authorizer=role,
    )
    return rendered.status, json.loads(rendered.body)


def test_a_missing_reply_row_is_pending(reply_templates: dict[str, str]) -> None:
    status, body = _answer(
        reply_templates["found"], item=None, headers={"X-Track-ID": "t1"}, role=TRACK
    )
    assert status is None
    assert body == Reply.pending("req_01ABC", "unknown").model_dump(mode="json")


def _record(**overrides: Any) -> ReplyRecord:
    values: dict[str, Any] = {
        "request_id": "req_01ABC",
        "action": "allocate",
        "status": ReplyStatus.SUCCEEDED,
        "track_id": "t1",
        "result": {
            "sandbox_id": "2012220",
            "name": "lab-sbx-1",
            "external_id": "identity/accounts/16c58cbf-ae3f-4d31-955d-4390e463a417",
            "allocated_at": 1759585372.25,
            "expires_at": 1759601572,
            "idempotent": False,
        },
        "completed_at": 1759585372.5,
        "created_at": 1759585372.0,
        "ttl": 1759671772,
    }
    values.update(overrides)
    return ReplyRecord(**values)


REPLY_RECORDS = [
    _record(),
    _record(result={**_record().result, "idempotent": True}),  # type: ignore[dict-item]
    _record(
        action="release",
        result={"sandbox_id": "2012220", "status": "pending_deletion", "idempotent": False},
    ),
    _record(
        status=ReplyStatus.FAILED,
        result=None,
        error=ReplyError(
            code=ErrorCode.NO_SANDBOXES_AVAILABLE, message="no sandboxes available", retry_after=30
        ),
    ),
    _record(
        status=ReplyStatus.FAILED,
        result=None,
        error=ReplyError(code=ErrorCode.NOT_SANDBOX_OWNER, message="not yours"),
    ),
    _record(status=ReplyStatus.PENDING, result=None, completed_at=None),
]


@pytest.mark.parametrize("record", REPLY_RECORDS, ids=lambda r: f"{r.action}-{r.status}")
def test_the_owner_reads_its_reply_as_the_local_gateway_answers_it(
    reply_templates: dict[str, str], record: ReplyRecord
) -> None:
    # GIVEN the row a consumer writes (schemas.items.reply_item, DynamoDB attribute values)
    item = reply_item(record)
    # WHEN the owning track reads it through API Gateway
    status, body = _answer(
        reply_templates["found"], item=item, headers={"X-Instruqt-Sandbox-ID": "t1"}, role=TRACK
    )
    # THEN the answer is the local gateway's: record.to_reply() as JSON
    assert status is None
    assert body == record.to_reply().model_dump(mode="json")


def test_another_tracks_reply_is_not_found(reply_templates: dict[str, str]) -> None:
    status, body = _answer(
        reply_templates["found"],
        item=reply_item(_record()),
        headers={"X-Track-ID": "t2"},
        role=TRACK,
    )
    assert status == 404
    assert body == {"error": {"code": "NOT_FOUND", "message": "no such request"}}


def test_the_admin_token_reads_any_reply(reply_templates: dict[str, str]) -> None:
    job = _record(action="sync", track_id=None, result={"examined": 10, "changed": 2, "failed": 0})
    for record in (_record(), job):
        status, body = _answer(
            reply_templates["found"], item=reply_item(record), headers={}, role=ADMIN
        )
        assert status is None
        assert body == record.to_reply().model_dump(mode="json")
    # ... and a track cannot read a job's reply (it has no owner).
    status, _ = _answer(
        reply_templates["found"], item=reply_item(job), headers={"X-Track-ID": "t1"}, role=TRACK
    )
    assert status == 404


@pytest.mark.parametrize("text", HOSTILE)
def test_stored_text_cannot_break_out_of_the_reply(
    reply_templates: dict[str, str], text: str
) -> None:
    record = _record(
        status=ReplyStatus.FAILED,
        result=None,
        error=ReplyError(code=ErrorCode.SANDBOX_NOT_FOUND, message=text),
    )
    hostile_result = _record(result={**_record().result, "name": text, "external_id": text})  # type: ignore[dict-item]
    for rec in (record, hostile_result):
        status, body = _answer(
            reply_templates["found"], item=reply_item(rec), headers={"X-Track-ID": "t1"}, role=TRACK
        )
        assert status is None
        assert body == rec.to_reply().model_dump(mode="json")


def test_reply_answers_carry_retry_after_and_security_headers(api: Any) -> None:
    found = one(api, "aws_api_gateway_integration_response", "get_reply_found").config()
    params = found["response_parameters"]
    assert params["method.response.header.Retry-After"] == "'1'"
    for header, value in {
        "X-Content-Type-Options": "'nosniff'",
        "X-Frame-Options": "'DENY'",
        "Referrer-Policy": "'no-referrer'",
        "Cache-Control": "'no-store'",
    }.items():
        assert params[f"method.response.header.{header}"] == value


# ---------------------------------------------------------------------------------------
# Routes, auth, and API Gateway's own answers
# ---------------------------------------------------------------------------------------


def test_every_method_uses_the_token_authorizer_and_a_usage_plan(api: Any) -> None:
    methods = [
        *by_key(api, "aws_api_gateway_method", "enqueue").values(),
        one(api, "aws_api_gateway_method", "get_reply"),
        *by_key(api, "aws_api_gateway_method", "code").values(),
    ]
    authorizer = one(api, "aws_api_gateway_authorizer", "token").config()
    assert authorizer["type"] == "TOKEN"
    assert authorizer["identity_source"] == "method.request.header.Authorization"
    for method in methods:
        config = method.config()
        assert config["authorization"] == "CUSTOM"
        assert config["api_key_required"] is True
        assert config["request_parameters"]["method.request.header.Authorization"] is True
    assert one(api, "aws_api_gateway_rest_api", "this").get("api_key_source") == "AUTHORIZER"


def test_routes_are_the_contract_paths(api: Any) -> None:
    resources = {r.address: r.config() for r in api.instances("aws_api_gateway_resource")}
    parts = sorted(c["path_part"] for c in resources.values())
    assert parts == sorted(
        [
            "v1",
            "allocate",
            "sandboxes",
            "{sandbox_id}",
            "mark-for-deletion",
            "extend",
            "requests",
            "{request_id}",
            "admin",
            "sync",
            "cleanup",
            "expire",
            "delete-stale",
            # code routes (read Lambda) and the health route
            "stats",
            "sandboxes",
            "healthz",
            # v2: /v1/admin/sandboxes/{sandbox_id}/{retry,quarantine,release,history}
            "{sandbox_id}",
            "retry",
            "quarantine",
            "release",
            "history",
            # v2: /v1/admin/tenants/{name}/track-tokens (read Lambda: minting)
            "tenants",
            "{name}",
            "track-tokens",
        ]
    )


def test_api_gateway_answers_its_own_errors_in_the_contract_body(api: Any) -> None:
    responses = {
        k: r.config()
        for k, r in by_key(api, "aws_api_gateway_gateway_response", "contract").items()
    }
    expected = {
        "UNAUTHORIZED": ("401", "UNAUTHORIZED"),
        "ACCESS_DENIED": ("403", "FORBIDDEN"),
        "MISSING_AUTHENTICATION_TOKEN": ("404", "NOT_FOUND"),
        "THROTTLED": ("429", "RATE_LIMITED"),
        "REQUEST_TOO_LARGE": ("413", "PAYLOAD_TOO_LARGE"),
    }
    for response_type, (status, code) in expected.items():
        config = responses[response_type]
        assert config["status_code"] == status
        assert json.loads(config["response_templates"]["application/json"])["error"]["code"] == code
    assert (
        responses["THROTTLED"]["response_parameters"]["gatewayresponse.header.Retry-After"] == "'1'"
    )
    assert (
        responses["UNAUTHORIZED"]["response_parameters"]["gatewayresponse.header.WWW-Authenticate"]
        == "'Bearer'"
    )
    for config in responses.values():
        code = json.loads(config["response_templates"]["application/json"])["error"]["code"]
        assert code in ErrorCode.__members__
        assert (
            config["response_parameters"]["gatewayresponse.header.X-Content-Type-Options"]
            == "'nosniff'"
        )


def test_every_error_code_in_a_template_is_a_contract_code() -> None:
    for path in APIGW_DIR.glob("*.vtl"):
        for code in re.findall(r'"code": "([A-Z_]+)"', path.read_text()):
            assert code in ErrorCode.__members__, (path.name, code)


def test_access_logs_are_json_lines_with_the_application_field_names(api: Any) -> None:
    stage = one(api, "aws_api_gateway_stage", "this").config()
    template = stage["access_log_settings"][0]["format"]
    sample = (
        template.replace("$context.status", "202")
        .replace("$context.responseLatency", "12")
        .replace("$context.requestTimeEpoch", str(EPOCH_MS))
    )
    sample = re.sub(r"\$context\.[A-Za-z.]+", "-", sample)
    line = json.loads(sample)
    assert {"request_id", "level", "event", "status", "latency_ms"} <= set(line)
    assert line["status"] == 202 and line["latency_ms"] == 12
    assert stage["xray_tracing_enabled"] is True
    settings_ = one(api, "aws_api_gateway_method_settings", "all").config()["settings"][0]
    assert settings_["data_trace_enabled"] is False  # would log bearer tokens


def test_usage_plans_throttle_track_and_admin_calls_separately(api: Any) -> None:
    """The track plan is all tracks' budget together, the stage's (sized for the declared
    event: tests/infra/test_event_throttling.py); one track's own budget is the WAF rule."""
    plans = {k: p.config() for k, p in by_key(api, "aws_api_gateway_usage_plan", "role").items()}
    stage = plan()
    assert plans["track"]["throttle_settings"][0] == {
        "rate_limit": stage.local("stage_rate_limit_per_s"),
        "burst_limit": stage.local("stage_burst_limit"),
    }
    assert plans["admin"]["throttle_settings"][0] == {"rate_limit": 10, "burst_limit": 100}


# ---------------------------------------------------------------------------------------
# Signed tokens past their exp (the authorizer's answer is cached up to its TTL)
# ---------------------------------------------------------------------------------------

NOW_S = EPOCH_MS // 1000


def _signed(exp: str) -> dict[str, str]:
    return {"role": "track", "tenant": "acme", "track_id": "t1", "prefixes": "", "exp": exp}


@pytest.mark.parametrize(
    ("exp", "expired"),
    [
        (str(NOW_S + 1), False),
        (str(NOW_S + 10**6), False),
        ("99999999999", False),  # a longer number is later
        ("", False),  # not a signed token
        (str(NOW_S), True),  # exp itself is past (exp <= now, as the authorizer)
        (str(NOW_S - 1), True),
        ("99", True),  # a shorter number is earlier
        ("0" + str(NOW_S + 10), True),  # never what the authorizer sends: fail closed
        ("soon", True),
    ],
)
@pytest.mark.parametrize("route", ["allocate", "release", "extend"])
def test_a_signed_token_past_its_exp_is_refused_by_every_track_template(
    request_templates: dict[str, str], route: str, exp: str, expired: bool
) -> None:
    rendered = render(
        request_templates[route],
        input=FakeInput(headers={"X-Instruqt-Sandbox-ID": "t1"}, path={"sandbox_id": "sbx-1"}),
        request_id=REQUEST_ID,
        request_time_epoch_ms=EPOCH_MS,
        authorizer=_signed(exp),
    )
    params = send_message_params(rendered.body)
    assert (params["Action"] == "RejectUnauthorized") is expired
    assert _accepted(params) is not expired


def test_an_expired_refusal_is_answered_401(api: Any) -> None:
    response = by_key(api, "aws_api_gateway_integration_response", "enqueue_rejected")[
        "allocate"
    ].config()
    error = (
        "<ErrorResponse><Error><Code>InvalidAction</Code><Message>The action "
        "RejectUnauthorized is not valid for this endpoint.</Message></Error></ErrorResponse>"
    )
    rendered = render(
        response["response_templates"]["application/json"], input=FakeInput(body=error)
    )
    assert rendered.status == 401
    assert rendered.headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(rendered.body) == {
        "error": {"code": "UNAUTHORIZED", "message": "missing or invalid bearer token"}
    }


@pytest.mark.parametrize(("exp", "status"), [(str(NOW_S), 401), (str(NOW_S + 1), None)])
def test_a_reply_read_with_a_token_past_its_exp_is_401(
    reply_templates: dict[str, str], exp: str, status: int | None
) -> None:
    headers = {"X-Instruqt-Sandbox-ID": "t1"}
    call = _get_item(
        reply_templates["request"], request_id="req_01ABC", headers=headers, role=_signed(exp)
    )
    # A harmless read that DynamoDB answers (no ValidationException to turn into a 400).
    assert call["Key"] == {"request_id": {"S": "-" if status else "req_01ABC"}}
    rendered = render(
        reply_templates["found"],
        input=FakeInput(body="{}", headers=headers, path={"request_id": "req_01ABC"}),
        request_time_epoch_ms=EPOCH_MS,
        authorizer=_signed(exp),
    )
    assert rendered.status == status
    code = (json.loads(rendered.body)["error"] or {}).get("code")
    assert code == ("UNAUTHORIZED" if status else None)
