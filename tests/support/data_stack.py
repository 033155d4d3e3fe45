"""Reading the data path's emulated resources the way Lambda's event sources do: a queue's messages as an SQS
event's records, a table's stream records. The resources themselves come from local/aws.py (data.yaml's
properties), the same ones local mode creates."""

from typing import Any

import boto3
from local.aws import DataStack

__all__ = ["DataStack", "delete_received", "received", "stream_records"]


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
