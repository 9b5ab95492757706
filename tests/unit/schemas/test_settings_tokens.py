"""Settings refuse weak or equal tokens (security finding: equal track/admin tokens gave a
track admin rights): each >= 24 characters, all distinct, never echoed in the error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.settings import GatewaySettings

STRONG = "s" * 24


@given(st.text(min_size=1, max_size=40).filter(lambda t: t.strip() == t and t != "*"))
def test_a_token_is_accepted_only_from_24_characters(token: str) -> None:
    for field in ("track_token", "admin_token"):
        try:
            GatewaySettings(**{field: token})
        except ValidationError:
            assert len(token) < 24
        else:
            assert len(token) >= 24


@pytest.mark.parametrize(
    "values",
    [
        {"track_token": STRONG, "admin_token": STRONG},
        {"track_token": STRONG, "token_signing_secret": STRONG},
        {"admin_token": STRONG, "token_signing_secret": STRONG},
    ],
)
def test_no_two_secrets_may_be_equal(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        GatewaySettings(**values)
    assert STRONG not in str(caught.value)


@pytest.mark.parametrize("token", ["*" * 1, " " + "a" * 30, "a" * 30 + "\n"])
def test_star_and_padded_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(track_token=token)


def test_an_empty_token_means_not_configured() -> None:
    assert GatewaySettings(track_token="", admin_token="a" * 24).track_token is not None
