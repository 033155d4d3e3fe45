"""The data path's AWS resources, as the template declares them, in an emulated account (moto in-process, or moto's
server at `endpoint_url` for local runs): the data bucket (versioned), the data table (by-day index, stream, TTL),
the idempotency table, and the ingest, fetch and backfill queues, each with its dead-letter queue."""

import json
from dataclasses import dataclass
from typing import Any

import boto3

DATA_BUCKET = "terra-connect-data"
DATA_TABLE = "terra-connect-data"
IDEMPOTENCY_TABLE = "terra-connect-idempotency"
DATA_KEY_ID = "arn:aws:kms:us-east-1:123456789012:key/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
# Queue name → maxReceiveCount before its dead-letter queue (template.yaml's redrive policies).
QUEUES = {"ingest": 10, "fetch": 20, "backfill": 50}


@dataclass(frozen=True)
class DataStack:
    bucket: str
    table: str
    idempotency_table: str
    key_id: str
    queue_urls: dict[str, str]  # ingest, fetch, backfill
    dead_letter_urls: dict[str, str]

    def environment(self) -> dict[str, str]:
        """The functions' environment variables naming these resources (one name, one resource, everywhere)."""
        return {
            "DATA_BUCKET": self.bucket,
            "DATA_KEY_ID": self.key_id,
            "DATA_TABLE": self.table,
            "IDEMPOTENCY_TABLE": self.idempotency_table,
            "INGEST_QUEUE_URL": self.queue_urls["ingest"],
            "FETCH_QUEUE_URL": self.queue_urls["fetch"],
            "BACKFILL_QUEUE_URL": self.queue_urls["backfill"],
        }


def create_data_stack(endpoint_url: str | None = None, *, prefix: str = "terra-connect") -> DataStack:
    s3 = boto3.client("s3", endpoint_url=endpoint_url)
    s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
    dynamodb.create_table(
        TableName=DATA_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "day_key", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-day",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "day_key", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.update_time_to_live(
        TableName=DATA_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    queue_urls: dict[str, str] = {}
    dead_letter_urls: dict[str, str] = {}
    for name, receives in QUEUES.items():
        dead = sqs.create_queue(QueueName=f"{prefix}-{name}-dlq")["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": receives})
        queue = sqs.create_queue(
            QueueName=f"{prefix}-{name}", Attributes={"VisibilityTimeout": "360", "RedrivePolicy": redrive}
        )
        queue_urls[name], dead_letter_urls[name] = queue["QueueUrl"], dead
    return DataStack(DATA_BUCKET, DATA_TABLE, IDEMPOTENCY_TABLE, DATA_KEY_ID, queue_urls, dead_letter_urls)


def received(stack: DataStack, queue: str = "ingest") -> list[dict[str, Any]]:
    """The queue's messages, as Lambda's event source hands them over (they stay on the queue: nothing deletes)."""
    sqs = boto3.client("sqs")
    url = stack.queue_urls[queue]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0)
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": "us-east-1",
        }
        for m in answer.get("Messages", [])
    ]


def delete_received(stack: DataStack, messages: list[dict[str, Any]], queue: str = "ingest") -> None:
    """What Lambda's event source does once a batch succeeded."""
    sqs = boto3.client("sqs")
    for message in messages:
        sqs.delete_message(QueueUrl=stack.queue_urls[queue], ReceiptHandle=message["receiptHandle"])


def stream_records(table: str, start: int = 0) -> list[dict[str, Any]]:
    """The table's stream records from `start` (moto records every write in-process), as Lambda hands them over."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - moto's internals, for tests only
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(table).stream_shard
    # moto leaves out the source, which Lambda's event source mapping adds.
    source = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for item in shard.items[start:] if shard is not None else []:
        record = item.to_json()
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, int | float):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        records.append({**record, "dynamodb": change, "eventSourceARN": source})
    return records
