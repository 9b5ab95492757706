"""Dead-letter queues: list and show without consuming, replay in FIFO order, purge.

``model`` (pairs, dead letters, selectors), ``peek`` (non-consuming reads and the reply
rows that explain them), ``replay`` (crash-safe, ordered replay; SQS's native move),
``purge`` (export, answer, delete). The receive and receipt-handle batches they share are
faststream_sqs's (``faststream_sqs.helpers``).
"""

from faststream_sqs.helpers import change_visibility, delete, release
from producers.ops.dlq.model import (
    QUEUE_KINDS,
    REJECT_REASON_ATTRIBUTE,
    DeadLetter,
    DlqPair,
    Selector,
    by_group,
    dlq_pairs,
)
from producers.ops.dlq.peek import Peek, attach_reasons, find, get_replies, peek, peek_pairs
from producers.ops.dlq.purge import PURGED_REASON, Purge, PurgeReport, export_line, purged_reply
from producers.ops.dlq.replay import (
    Replay,
    ReplayHooks,
    ReplayReport,
    replay_attributes,
    replay_dedup_id,
    start_native_move,
)

__all__ = [
    "PURGED_REASON",
    "QUEUE_KINDS",
    "REJECT_REASON_ATTRIBUTE",
    "DeadLetter",
    "DlqPair",
    "Peek",
    "Purge",
    "PurgeReport",
    "Replay",
    "ReplayHooks",
    "ReplayReport",
    "Selector",
    "attach_reasons",
    "by_group",
    "change_visibility",
    "delete",
    "dlq_pairs",
    "export_line",
    "find",
    "get_replies",
    "peek",
    "peek_pairs",
    "purged_reply",
    "release",
    "replay_attributes",
    "replay_dedup_id",
    "start_native_move",
]
