"""CONTRACT.md's input rules, one row per rule: headers, path ids, bodies, paging parameters."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers, QueryParams

from producers.gateway.errors import BadRequestError
from producers.gateway.validation import (
    TrackHeaders,
    page_params,
    request_id_param,
    sandbox_id_param,
    track_headers,
)
from schemas.pool import SandboxStatus

OK_128 = "a" * 128
OK_64 = "p" * 64


def _headers(*pairs: tuple[str, str]) -> Headers:
    return Headers(raw=[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs])


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("X-Instruqt-Sandbox-ID", "inst-1")], TrackHeaders("inst-1")),
        ([("X-Track-ID", "legacy-1")], TrackHeaders("legacy-1")),
        # both sent: the preferred one wins, the legacy one is ignored (even when malformed)
        ([("X-Instruqt-Sandbox-ID", "inst-1"), ("X-Track-ID", "legacy-1")], TrackHeaders("inst-1")),
        (
            [("X-Instruqt-Sandbox-ID", "inst-1"), ("X-Track-ID", "bad value!")],
            TrackHeaders("inst-1"),
        ),
        # an empty preferred header counts as absent: the legacy one is used
        ([("X-Instruqt-Sandbox-ID", ""), ("X-Track-ID", "legacy-1")], TrackHeaders("legacy-1")),
        # the whole alphabet, and the longest values
        ([("X-Track-ID", "Az09._:@-")], TrackHeaders("Az09._:@-")),
        ([("X-Track-ID", OK_128)], TrackHeaders(OK_128)),
        (
            [
                ("X-Track-ID", "t"),
                ("X-Instruqt-Track-ID", "course.v2"),
                ("X-Sandbox-Name-Prefix", OK_64),
                ("Idempotency-Key", "key:1@x"),
            ],
            TrackHeaders("t", track_name="course.v2", name_prefix=OK_64, idempotency_key="key:1@x"),
        ),
        # empty optional headers count as absent
        (
            [
                ("X-Track-ID", "t"),
                ("X-Instruqt-Track-ID", ""),
                ("X-Sandbox-Name-Prefix", ""),
                ("Idempotency-Key", ""),
            ],
            TrackHeaders("t"),
        ),
    ],
)
def test_track_headers_accepted(pairs: list[tuple[str, str]], expected: TrackHeaders) -> None:
    assert track_headers(_headers(*pairs)) == expected


@pytest.mark.parametrize(
    "pairs",
    [
        pytest.param([], id="no-track-header"),
        pytest.param([("X-Instruqt-Sandbox-ID", "")], id="empty-track-header"),
        pytest.param([("X-Track-ID", "")], id="empty-legacy-header"),
        pytest.param([("X-Instruqt-Sandbox-ID", "a" * 129)], id="track-id-129-chars"),
        pytest.param([("X-Instruqt-Sandbox-ID", "has space")], id="track-id-space"),
        pytest.param([("X-Instruqt-Sandbox-ID", "a/b")], id="track-id-slash"),
        pytest.param([("X-Instruqt-Sandbox-ID", "caf\u00e9")], id="track-id-non-ascii"),
        pytest.param([("X-Instruqt-Sandbox-ID", "a,b")], id="track-id-comma"),
        # the preferred header wins even when it is the malformed one
        pytest.param(
            [("X-Instruqt-Sandbox-ID", "bad!"), ("X-Track-ID", "good")], id="bad-preferred"
        ),
        pytest.param([("X-Track-ID", "a*b")], id="legacy-bad-char"),
        pytest.param(
            [("X-Instruqt-Sandbox-ID", "a"), ("X-Instruqt-Sandbox-ID", "b")], id="track-id-twice"
        ),
        pytest.param([("X-Track-ID", "t"), ("X-Instruqt-Track-ID", "a b")], id="track-name-bad"),
        pytest.param(
            [("X-Track-ID", "t"), ("X-Instruqt-Track-ID", "n" * 129)], id="track-name-129"
        ),
        pytest.param(
            [("X-Track-ID", "t"), ("X-Sandbox-Name-Prefix", "p" * 65)], id="prefix-65-chars"
        ),
        pytest.param([("X-Track-ID", "t"), ("X-Sandbox-Name-Prefix", "lab%")], id="prefix-bad"),
        pytest.param([("X-Track-ID", "t"), ("Idempotency-Key", "k" * 129)], id="key-129"),
        pytest.param([("X-Track-ID", "t"), ("Idempotency-Key", "k\tk")], id="key-tab"),
    ],
)
def test_track_headers_refused(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequestError):
        track_headers(_headers(*pairs))


@pytest.mark.parametrize("value", ["sbx-1", "Az09._:@-", "s" * 128])
def test_sandbox_id_accepted(value: str) -> None:
    assert sandbox_id_param(value) == value


@pytest.mark.parametrize("value", ["", "s" * 129, "a b", "a/b", "a%2Fb", "\u00e9", "a\nb"])
def test_sandbox_id_refused(value: str) -> None:
    with pytest.raises(BadRequestError):
        sandbox_id_param(value)


@pytest.mark.parametrize("value", ["req_01J0000000000000000000000", "a", "r" * 64, "A-b_9"])
def test_request_id_accepted(value: str) -> None:
    assert request_id_param(value) == value


@pytest.mark.parametrize("value", ["", "r" * 65, "req.1", "req:1", "a b", "req\n"])
def test_request_id_refused(value: str) -> None:
    with pytest.raises(BadRequestError):
        request_id_param(value)


@pytest.mark.parametrize(
    ("query", "status", "limit", "cursor"),
    [
        ("", None, 50, None),
        ("status=stale&limit=1", SandboxStatus.STALE, 1, None),
        ("limit=100&cursor=abc.def", None, 100, "abc.def"),
        ("status=&cursor=", None, 50, None),  # empty counts as absent
    ],
)
def test_page_params_accepted(
    query: str, status: SandboxStatus | None, limit: int, cursor: str | None
) -> None:
    params = page_params(QueryParams(query))
    assert (params.status, params.limit, params.cursor) == (status, limit, cursor)


@pytest.mark.parametrize(
    "query",
    [
        "status=gone",
        "status=AVAILABLE",
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=ten",
        "limit=1.5",
        "limit=",
        "limit=%C2%B2",  # a superscript two: a digit to str.isdigit, not to int()
        "limit=1&limit=2",
        "status=stale&status=available",
    ],
)
def test_page_params_refused(query: str) -> None:
    with pytest.raises(BadRequestError):
        page_params(QueryParams(query))
