"""The local gateway parses ``Authorization`` exactly as API Gateway's identity-source rule
``^[Bb]earer [^ ]+$`` does (security finding: the two hosts disagreed)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from producers.gateway.auth import bearer_token

API_GATEWAY_RULE = re.compile(r"^[Bb]earer [^ ]+$")


def _java_like_matches(value: str) -> bool:
    # Java's String.matches is a full match of the whole value (anchors or not).
    return re.fullmatch(API_GATEWAY_RULE.pattern.strip("^$"), value) is not None


@given(
    st.one_of(
        st.text(max_size=30),
        st.builds(
            lambda s, t: f"{s} {t}",
            st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Bearer ", ""]),
            st.text(alphabet=st.sampled_from("ab \t\n"), max_size=8),
        ),
    )
)
def test_accepted_exactly_when_api_gateway_accepts(value: str) -> None:
    try:
        headers = Headers(raw=[(b"authorization", value.encode("latin-1"))])
    except UnicodeEncodeError:
        return
    got = bearer_token(headers)
    assert (got is not None) == _java_like_matches(value)
    if got is not None:
        assert got == value[len("Bearer ") :]


def test_examples() -> None:
    def parse(v: str) -> str | None:
        return bearer_token(Headers({"authorization": v}))

    assert parse("Bearer abc") == "abc"
    assert parse("bearer abc") == "abc"
    assert parse("BEARER abc") is None
    assert parse("Bearer  abc") is None
    assert parse("Bearer abc def") is None
    assert parse("Bearer ") is None
    assert parse(" Bearer abc") is None
