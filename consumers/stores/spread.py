"""Where a candidate listing starts: at a random point of StatusIndex, then wrapping round.

Consumers in different processes that all list ``available`` sandboxes from the start of
the index race for the same first page: with two consumers in a 1,000-track burst, 0.66
claims per allocation lost that race. So a first page starts at a random point: an
ExclusiveStartKey made of a random id shaped like the ids seen (separators kept, the rest
drawn from the alphabet their characters suggest, so random UUIDs or account numbers fall
uniformly among real ones). The pages go on to the end of the index and then once more
from its beginning to its end, so every available sandbox is still listed before the
last page says there are no more, whatever order the index keeps equal keys in.

The continuation keys handed to callers carry marks (never sent to DynamoDB) saying which
of the two passes a page belongs to.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any, Final

from schemas.items import to_attr
from schemas.pool import SandboxStatus, sandbox_key

#: Marks on a continuation key: the pages after a random start, and the pass from the
#: beginning of the index that follows them.
SPREAD_MARK: Final = "__spread__"
WRAP_MARK: Final = "__wrap__"
_HEX: Final = frozenset(string.hexdigits.lower())


def random_like(sample: str, rng: random.Random) -> str:
    """A random string shaped like ``sample`` (see the module doc)."""
    chars = {c for c in sample if c.isalnum()}
    if chars <= set(string.digits):
        alphabet = string.digits
    elif chars <= _HEX:
        alphabet = "0123456789abcdef"
    elif chars <= _HEX | set(string.hexdigits.upper()) and not chars & set(string.ascii_lowercase):
        alphabet = "0123456789ABCDEF"
    else:
        alphabet = string.digits + string.ascii_letters
    return "".join(rng.choice(alphabet) if c.isalnum() else c for c in sample)


@dataclass(frozen=True)
class PagePosition:
    """Where one page of a listing starts, and which pass it belongs to."""

    #: What to send as ExclusiveStartKey (None: the beginning of the index).
    exclusive_start_key: dict[str, Any] | None
    #: The page is in the pass after a random start (its end wraps to the beginning).
    spread: bool
    #: The page starts at a random point chosen just now (an endpoint may refuse it).
    random_start: bool


class CandidateSpread:
    """Random start points for candidate listings, learnt from the ids the store sees."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()  # noqa: S311 - spreading load, not security
        self._id_sample: str | None = None  # a sandbox id seen, for the shape of random ones
        self._sample_read = False
        #: DynamoDB refused a made-up start key once: list from the beginning from then on.
        self._refused = False

    @property
    def wants_sample(self) -> bool:
        """No id seen yet and none asked for: read one item so even page 1 is spread."""
        return self._id_sample is None and not self._sample_read

    def sampled(self, sandbox_id: str | None) -> None:
        """The one-item read is done (it found ``sandbox_id``, or an empty index)."""
        self._sample_read = True
        if sandbox_id is not None:
            self._id_sample = sandbox_id

    def saw(self, sandbox_id: str) -> None:
        self._id_sample = sandbox_id

    def refuse(self) -> None:
        """The endpoint refused a random start key: stop making them."""
        self._refused = True

    def position(self, start_key: dict[str, Any] | None) -> PagePosition:
        """Where a page starts: a fresh random point for a first page, else the caller's key."""
        if start_key is None and self._id_sample is not None and not self._refused:
            key = self._random_start(self._id_sample)
            return PagePosition(key, spread=True, random_start=True)
        if start_key is None:
            return PagePosition(None, spread=False, random_start=False)
        if start_key.get(WRAP_MARK) is not None:  # the pass from the beginning
            return PagePosition(None, spread=False, random_start=False)
        clean = {k: v for k, v in start_key.items() if k not in (SPREAD_MARK, WRAP_MARK)}
        spread = start_key.get(SPREAD_MARK) is not None
        return PagePosition(clean, spread=spread, random_start=False)

    @staticmethod
    def continuation(
        position: PagePosition, last_key: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """The key a caller continues from: marked while in the spread pass; at its end,
        the mark that starts the pass from the beginning."""
        if not position.spread:
            return last_key
        if last_key:
            return {**last_key, SPREAD_MARK: {"BOOL": True}}
        return {WRAP_MARK: {"BOOL": True}}

    def _random_start(self, sample: str) -> dict[str, Any]:
        """An ExclusiveStartKey at a random point: a random id shaped like ``sample``."""
        key = sandbox_key(random_like(sample, self._rng))
        return {
            **{k: {"S": v} for k, v in key.items()},
            "status": {"S": SandboxStatus.AVAILABLE.value},
            "allocated_at": to_attr(0),
        }
