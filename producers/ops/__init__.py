"""Operator tools: dead-letter queues, pool reads, admin jobs and the status screen.

The logic lives in plain async modules (``dlq``, ``pool``, ``jobs``, ``status``) that take
clients as arguments, so tests drive them directly; ``cli`` is the typer/rich face.
"""
