"""The publisher a handler's result goes to when its message names a reply_to queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faststream._internal.endpoint.publisher.fake import FakePublisher
from typing_extensions import override

from faststream_sqs.response import SQSPublishCommand

if TYPE_CHECKING:
    from faststream._internal.producer import ProducerProto
    from faststream.response.response import PublishCommand


class SQSFakePublisher(FakePublisher):
    """Publishes a handler's result to the queue in the message's reply_to attribute."""

    __slots__ = ("queue",)

    def __init__(self, producer: ProducerProto[SQSPublishCommand], *, queue: str) -> None:
        super().__init__(producer=producer)
        self.queue = queue

    @override
    def patch_command(self, cmd: PublishCommand) -> SQSPublishCommand:
        cmd = super().patch_command(cmd)
        real = SQSPublishCommand.from_cmd(cmd)
        real.destination = self.queue
        return real
