"""Dead-letter queues: list and show without consuming, replay in FIFO order, purge.

``model`` (pairs, dead letters, selectors), ``peek`` (non-consuming reads and the reply
rows that explain them), ``replay`` (crash-safe, ordered replay; SQS's native move),
``purge`` (export, answer, delete), and ``sqs`` (the receive and receipt-handle batches they share).
"""

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
from producers.ops.dlq.sqs import delete, release, set_visibility

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
    "set_visibility",
    "start_native_move",
]
