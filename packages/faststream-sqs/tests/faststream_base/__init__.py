"""FastStream's broker-agnostic test cases, vendored unchanged but for their imports.

Source: https://github.com/ag2ai/faststream, tests/brokers/base/ (and tests/tools.py) at
commit 7c9a125dfdf20cc45b64aac26b53559057443da1, the newest 0.7-line commit available
here (0.7.8 itself is not tagged in that history). Apache License 2.0, Copyright the
FastStream authors. `from tests.brokers.base.x` / `from tests.tools` became relative
imports; nothing else was changed. They run against faststream_sqs in
tests/brokercases/ (in memory and on moto); the cases SQS cannot pass are listed, with
the reason, in the package README.
"""
