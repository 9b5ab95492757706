"""v2 message rules: tenant on track requests, waits, extend, operator jobs, one set of unions."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.ids import DEFAULT_TENANT, TENANT_NAME_PATTERN, TenantName, is_tenant_name
from schemas.messages import (
    ADMIN_JOBS,
    ADMIN_SANDBOX_ACTIONS,
    ANY_MESSAGE,
    DEFAULT_OPERATOR_REASON,
    JOB_MESSAGE,
    REQUEST_MESSAGE,
    AllocateMessage,
    CleanupJob,
    DeleteSandboxJob,
    ExtendMessage,
    ForceReleaseJob,
    MessageType,
    QuarantineJob,
    ReleaseMessage,
    RetryJob,
    message_group_id,
)

TENANT = TypeAdapter(TenantName)

#: The v1 example of CONTRACT.md "Messages", exactly as a v1 producer sends it.
V1_ALLOCATE = (
    '{"schema_version": 1, "type": "allocate", "request_id": "req_1", "track_id": "t-1", '
    '"track_name": null, "name_prefix": null, "idempotency_key": null, '
    '"requested_at": "2026-11-23T12:00:00Z"}'
)
V1_RELEASE = (
    '{"schema_version": 1, "type": "release", "request_id": "req_2", "track_id": "t-1", '
    '"sandbox_id": "s-1", "track_name": null, "idempotency_key": null, '
    '"requested_at": "2026-11-23T12:00:00Z"}'
)


# tenants --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "a", "0", "acme-labs", "a_b", "a" * 32])
def test_tenant_names_of_the_rule_are_accepted(name: str) -> None:
    assert TENANT.validate_python(name) == name
    assert is_tenant_name(name)


@pytest.mark.parametrize("name", ["", "A", "Acme", "-a", "_a", "a" * 33, "a#b", "a b", "a.b", "é"])
def test_tenant_names_outside_the_rule_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        TENANT.validate_python(name)
    assert not is_tenant_name(name)


@given(st.from_regex(TENANT_NAME_PATTERN, fullmatch=True))
def test_every_name_the_pattern_describes_is_a_tenant_name(name: str) -> None:
    assert TENANT.validate_python(name) == name


@given(st.text(max_size=40))
def test_the_type_and_the_predicate_agree_on_any_text(text: str) -> None:
    try:
        TENANT.validate_python(text)
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == is_tenant_name(text) == bool(re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", text))


# old messages ---------------------------------------------------------------------------


def test_a_v1_allocate_without_tenant_or_wait_still_validates_as_the_default_tenant() -> None:
    message = ANY_MESSAGE.validate_json(V1_ALLOCATE)
    assert isinstance(message, AllocateMessage)
    assert message.tenant == DEFAULT_TENANT == "default"
    assert message.wait_for_sandbox_s == 0


def test_a_v1_release_without_tenant_still_validates_as_the_default_tenant() -> None:
    message = REQUEST_MESSAGE.validate_json(V1_RELEASE)
    assert isinstance(message, ReleaseMessage)
    assert message.tenant == DEFAULT_TENANT


def test_v1_jobs_still_validate() -> None:
    job = JOB_MESSAGE.validate_json(
        '{"type": "delete_sandbox", "request_id": "r", "sandbox_id": "s"}'
    )
    assert isinstance(job, DeleteSandboxJob)
    assert job.requested_by == "scheduler"


def test_a_v2_track_request_carries_its_tenant_on_the_wire() -> None:
    body = json.loads(
        AllocateMessage(request_id="r", track_id="t", tenant="acme").model_dump_json()
    )
    assert body["tenant"] == "acme"
    assert body["wait_for_sandbox_s"] == 0
    assert (
        json.loads(ReleaseMessage(request_id="r", track_id="t", sandbox_id="s").model_dump_json())[
            "tenant"
        ]
        == "default"
    )


@pytest.mark.parametrize("type_", ["allocate", "release", "extend"])
def test_a_track_request_with_a_malformed_tenant_does_not_validate(type_: str) -> None:
    body = {"type": type_, "request_id": "r", "track_id": "t", "sandbox_id": "s", "tenant": "Acme"}
    with pytest.raises(ValidationError):
        REQUEST_MESSAGE.validate_python(body)


MINIMAL: dict[str, dict[str, object]] = {
    "allocate": {"track_id": "t"},
    "release": {"track_id": "t", "sandbox_id": "s"},
    "extend": {"track_id": "t", "sandbox_id": "s"},
    "retry": {"sandbox_id": "s"},
    "quarantine": {"sandbox_id": "s"},
    "force_release": {"sandbox_id": "s"},
}


@pytest.mark.parametrize("type_", sorted(MINIMAL))
def test_unknown_extra_fields_are_ignored_by_every_new_model(type_: str) -> None:
    body = {"type": type_, "request_id": "r", **MINIMAL[type_], "added_in_v9": {"x": [1]}}
    message = ANY_MESSAGE.validate_python(body)
    assert message.type == type_
    assert "added_in_v9" not in message.model_dump()


# allocate: wait -------------------------------------------------------------------------


@given(st.integers(min_value=-10_000, max_value=10_000))
def test_wait_for_sandbox_s_is_accepted_exactly_from_0_to_900(seconds: int) -> None:
    body = {"type": "allocate", "request_id": "r", "track_id": "t", "wait_for_sandbox_s": seconds}
    if 0 <= seconds <= 900:
        assert REQUEST_MESSAGE.validate_python(body).wait_for_sandbox_s == seconds  # type: ignore[union-attr]
    else:
        with pytest.raises(ValidationError):
            REQUEST_MESSAGE.validate_python(body)


# extend ---------------------------------------------------------------------------------


def test_an_extend_defaults_to_the_consumers_extension_and_the_default_tenant() -> None:
    message = REQUEST_MESSAGE.validate_python(
        {"type": "extend", "request_id": "r", "track_id": "t", "sandbox_id": "s"}
    )
    assert isinstance(message, ExtendMessage)
    assert message.extend_by_s is None
    assert message.tenant == "default"
    assert message.track_name is None
    assert message.idempotency_key is None


@given(st.integers(min_value=-1_000, max_value=200_000))
def test_extend_by_s_is_accepted_exactly_from_60_to_86400(seconds: int) -> None:
    build = lambda: ExtendMessage(  # noqa: E731
        request_id="r", track_id="t", sandbox_id="s", extend_by_s=seconds
    )
    if 60 <= seconds <= 86_400:
        assert build().extend_by_s == seconds
    else:
        with pytest.raises(ValidationError):
            build()


def test_an_extend_needs_its_sandbox() -> None:
    with pytest.raises(ValidationError):
        REQUEST_MESSAGE.validate_python({"type": "extend", "request_id": "r", "track_id": "t"})


# operator jobs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "cls"),
    [("retry", RetryJob), ("quarantine", QuarantineJob), ("force_release", ForceReleaseJob)],
)
def test_operator_jobs_are_admin_jobs_about_one_sandbox(type_: str, cls: type) -> None:
    job = JOB_MESSAGE.validate_python({"type": type_, "request_id": "r", "sandbox_id": "s-1"})
    assert isinstance(job, cls)
    assert job.requested_by == "admin"
    assert job.reason == DEFAULT_OPERATOR_REASON == "operator request"
    assert message_group_id(job) == "sandbox:s-1"


def test_an_operator_job_is_never_requested_by_the_scheduler() -> None:
    with pytest.raises(ValidationError):
        RetryJob(request_id="r", sandbox_id="s", requested_by="scheduler")  # type: ignore[arg-type]


def test_an_operator_job_needs_its_sandbox() -> None:
    with pytest.raises(ValidationError):
        JOB_MESSAGE.validate_python({"type": "quarantine", "request_id": "r"})


@given(st.text(max_size=520))
def test_a_reason_is_1_to_500_printable_characters(reason: str) -> None:
    ok = 1 <= len(reason) <= 500 and reason.isprintable()
    if ok:
        assert QuarantineJob(request_id="r", sandbox_id="s", reason=reason).reason == reason
    else:
        with pytest.raises(ValidationError):
            QuarantineJob(request_id="r", sandbox_id="s", reason=reason)


@pytest.mark.parametrize("reason", ["", "a\nb", "tab\there", "\x00", "x" * 501, "bell\x07"])
def test_reasons_with_control_characters_or_out_of_bounds_are_refused(reason: str) -> None:
    with pytest.raises(ValidationError):
        ForceReleaseJob(request_id="r", sandbox_id="s", reason=reason)


def test_admin_sandbox_action_slugs_name_the_operator_jobs() -> None:
    assert ADMIN_SANDBOX_ACTIONS == {
        "retry": MessageType.RETRY,
        "quarantine": MessageType.QUARANTINE,
        "release": MessageType.FORCE_RELEASE,
    }
    assert not set(ADMIN_SANDBOX_ACTIONS) & set(ADMIN_JOBS)


# unions ---------------------------------------------------------------------------------


def test_each_union_holds_its_side_and_any_holds_both() -> None:
    request_types = {"allocate", "release", "extend"}
    for type_, fields in MINIMAL.items():
        body = {"type": type_, "request_id": "r", **fields}
        assert ANY_MESSAGE.validate_python(body).type == type_
        adapter, other = (
            (REQUEST_MESSAGE, JOB_MESSAGE)
            if type_ in request_types
            else (JOB_MESSAGE, REQUEST_MESSAGE)
        )
        assert adapter.validate_python(body).type == type_
        with pytest.raises(ValidationError):
            other.validate_python(body)


def test_every_message_type_is_in_exactly_one_side_of_the_unions() -> None:
    def types(adapter: TypeAdapter[object]) -> set[str]:
        schema = adapter.json_schema()
        return {
            d["properties"]["type"]["const"]
            for d in schema.get("$defs", {}).values()
            if "type" in d["properties"]
        }

    requests, jobs = types(REQUEST_MESSAGE), types(JOB_MESSAGE)  # type: ignore[arg-type]
    assert not requests & jobs
    assert requests | jobs == {t.value for t in MessageType} == types(ANY_MESSAGE)  # type: ignore[arg-type]


def test_group_ids_follow_the_contract() -> None:
    assert message_group_id(AllocateMessage(request_id="r", track_id="t-9")) == "t-9"
    assert message_group_id(ExtendMessage(request_id="r", track_id="t-9", sandbox_id="s")) == "t-9"
    assert message_group_id(CleanupJob(request_id="r")) == "cleanup"
    assert message_group_id(DeleteSandboxJob(request_id="r", sandbox_id="s-2")) == "sandbox:s-2"
