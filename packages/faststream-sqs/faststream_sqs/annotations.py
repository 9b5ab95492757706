"""Context annotations for handler arguments: `msg: SQSMessage` injects the message."""

from __future__ import annotations

from typing import Annotated

from faststream._internal.context import Context
from faststream.annotations import ContextRepo, Logger
from faststream.params import NoCast

from faststream_sqs.broker.broker import SQSBroker as _SQSBroker
from faststream_sqs.message import SQSMessage as _SQSMessage

__all__ = ("ContextRepo", "Logger", "NoCast", "SQSBroker", "SQSMessage")

SQSMessage = Annotated[_SQSMessage, Context("message")]
SQSBroker = Annotated[_SQSBroker, Context("broker")]
