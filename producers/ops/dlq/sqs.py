"""The SQS calls the DLQ tools make: faststream_sqs.helpers' (their one home), re-exported
under the names the DLQ modules have used."""

from __future__ import annotations

from typing import Final

from faststream_sqs.helpers import (
    MAX_BATCH_ENTRIES,
    change_visibility,
    chunks,
    delete,
    receive,
    release,
    release_quietly,
)

#: SQS's ceiling for ReceiveMessage and every *Batch call.
BATCH: Final = MAX_BATCH_ENTRIES
set_visibility = change_visibility

__all__ = (
    "BATCH",
    "chunks",
    "delete",
    "receive",
    "release",
    "release_quietly",
    "set_visibility",
)
