"""What one DynamoDB write costs on moto, by table size: why the embedded stack tops out.

    python -m tests.bench moto [--sizes 100,1000,3000] [--calls 20]

moto 5.2.5's TransactWriteItems deep-copies every table it touches before it starts (to
roll back on a cancelled transaction), once per transact item. Its cost therefore grows
with the number of items in the tables, not with the size of the transaction; a plain
conditional UpdateItem does not. The claim is one TransactWriteItems over three items (the
sandbox, the track pointer — both in the pool table — and the reply row), so on the
embedded stack each claim copies the pool table twice and the replies table once, under
the lock that serialises DynamoDB. This measures both calls in process (no HTTP) on a
table shaped like the pool (StatusIndex GSI), growing it between sizes.
"""

from __future__ import annotations

import os
import time

import boto3
from moto import mock_aws

from tests.bench.common import header, out_dir, parser, save


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--sizes", default="100,1000,3000")
    p.add_argument("--calls", type=int, default=20)
    args = p.parse_args(argv)
    figures = header("moto")
    folder = out_dir("moto", args.out)
    sizes = [int(s) for s in args.sizes.split(",")]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    rows = []
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="pool",
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
                {"AttributeName": "allocated_at", "AttributeType": "N"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "StatusIndex",
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "allocated_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        n = 0
        for size in sizes:
            while n < size:
                ddb.put_item(
                    TableName="pool",
                    Item={
                        "PK": {"S": f"SBX#{n:06d}"},
                        "SK": {"S": "META"},
                        "sandbox_id": {"S": f"{n:06d}"},
                        "status": {"S": "available"},
                        "allocated_at": {"N": "0"},
                        "name": {"S": f"lab-aws-{n:06d}"},
                        "external_id": {"S": f"identity/accounts/{n:036d}"},
                    },
                )
                n += 1
            key = {"PK": {"S": "SBX#000000"}, "SK": {"S": "META"}}
            update = {
                "TableName": "pool",
                "Key": key,
                "UpdateExpression": "SET touched = :t",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": {":t": {"N": "1"}},
            }
            started = time.perf_counter()
            for _ in range(args.calls):
                ddb.transact_write_items(TransactItems=[{"Update": update}])
            tx = (time.perf_counter() - started) / args.calls * 1000
            started = time.perf_counter()
            for _ in range(args.calls):
                ddb.update_item(**update)
            upd = (time.perf_counter() - started) / args.calls * 1000
            rows.append(
                {"items": size, "transact_1_item_ms": round(tx, 1), "update_ms": round(upd, 1)}
            )
            print(
                f"  {size:>6} items: TransactWriteItems (1 item) {tx:7.1f} ms, "
                f"conditional UpdateItem {upd:5.1f} ms"
            )
    figures["rows"] = rows
    save(folder, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
