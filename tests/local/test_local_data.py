"""Local mode's data path: data.yaml's resources in the emulated AWS, the functions' data settings, the queues'
trigger, and the Terra simulator's data deliveries and backfills, end to end."""

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from offline.dev import DevStack, dev_stack
from offline.gateway import FunctionInstance
from offline.queues import LocalQueueTrigger, QueueSource, mapping_batch_sizes
from offline.template import nested_template


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    with dev_stack(0, quiet=True) as running:
        yield running


def _client(stack: DevStack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.aws_endpoint)  # type: ignore[call-overload]


def test_the_data_resources_are_created_as_data_yaml_declares_them(stack: DevStack) -> None:
    resources = nested_template("Data")["Resources"]
    table = _client(stack, "dynamodb").describe_table(TableName=stack.data.table)["Table"]
    sqs = _client(stack, "sqs")
    ingest = sqs.get_queue_attributes(QueueUrl=stack.data.queue_urls["ingest"], AttributeNames=["All"])["Attributes"]
    encryption = _client(stack, "s3").get_bucket_encryption(Bucket=stack.data.bucket)

    assert [index["IndexName"] for index in table["LocalSecondaryIndexes"]] == ["by-day"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert json.loads(ingest["RedrivePolicy"])["maxReceiveCount"] == 10
    assert ingest["VisibilityTimeout"] == str(resources["IngestQueue"]["Properties"]["VisibilityTimeout"])
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == stack.data.key_id
    assert stack.data.key_id.startswith("arn:aws:kms:")


def test_every_function_gets_the_data_settings_the_template_gives_it(stack: DevStack) -> None:
    from terra_connect.entrypoints.backfill import get_backfill_container  # noqa: PLC0415
    from terra_connect.entrypoints.ingest import get_ingest_container  # noqa: PLC0415

    ingest = get_ingest_container().settings
    backfill = get_backfill_container().settings

    assert {"IngestFunction", "BackfillFunction"} <= set(stack.functions)
    assert (ingest.data_bucket, ingest.data_key_id, ingest.backfill_days) == (stack.data.bucket, stack.data.key_id, 30)
    assert backfill.backfill_queue_url == stack.data.queue_urls["backfill"]
    assert ingest.payload_url_hosts == ("amazonaws.com",)


def test_backfill_days_0_leaves_the_backfill_queue_unset_as_the_template_does(stack: DevStack) -> None:
    off = stack.data.settings({"BackfillDays": "0"})

    assert (off["BACKFILL_QUEUE_URL"], off["BACKFILL_DAYS"]) == ("", "0")
    assert stack.data.settings()["BACKFILL_QUEUE_URL"] == stack.data.queue_urls["backfill"]


def _settle(stack: DevStack) -> None:
    """Everything queued or streamed so far handed over (the triggers' own threads may take part of it first)."""
    for _ in range(5):
        stack.queues.drain()
        stack.stream.drain()
        stack.data_stream.drain()


def _stored_items(stack: DevStack, reference_id: str) -> list[dict[str, Any]]:
    answer = _client(stack, "dynamodb").query(
        TableName=stack.data.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"u#{reference_id}"}},
    )
    return list(answer["Items"])


def test_a_data_event_is_stored_through_the_ingest_queue_and_announced(stack: DevStack) -> None:
    assert stack.terra is not None
    owner = stack.identity.subject("quinn")
    user = stack.terra.connect("OURA", owner)
    _settle(stack)
    day = {"start_time": "2026-07-01T00:00:00.000000+00:00", "end_time": "2026-07-02T00:00:00.000000+00:00"}
    event = {
        "type": "daily",
        "version": "2022-03-16",
        "status": None,
        "user": user.as_terra(),
        "data": [{"metadata": {**day, "upload_type": 0}, "distance_data": {"steps": 4321}}],
    }

    assert stack.terra.send_event(event) == 200
    _settle(stack)

    records = [item for item in _stored_items(stack, owner) if item["sk"]["S"].startswith("r#daily#OURA#")]
    assert [item["day"]["S"] for item in records] == ["2026-07-01"]
    received = [
        d for t, d in stack.data_stream.published if t == "Wearable Data Received" and d["reference_id"] == owner
    ]
    assert [(d["type"], d["terra_user_id"], d["start_date"]) for d in received] == [
        ("daily", user.user_id, "2026-07-01")
    ]
    assert received[0]["bucket"] == stack.data.bucket


def test_the_queue_trigger_hands_over_lambda_shaped_batches_and_deletes_only_successes(stack: DevStack) -> None:
    sqs = _client(stack, "sqs")
    url = sqs.create_queue(QueueName="trigger-check", Attributes={"VisibilityTimeout": "360"})["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    batches: list[list[dict[str, Any]]] = []

    def handler(event: dict[str, Any], _context: object) -> dict[str, Any]:
        batches.append(event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "m1"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    function = FunctionInstance("Check", handler, timeout_seconds=5, memory_mb=128, turn=threading.Lock())
    trigger = LocalQueueTrigger(stack.aws_endpoint, [QueueSource(url, function, batch_size=2)])

    assert trigger.drain() == 3
    assert [len(batch) for batch in batches] == [2, 1]
    record = batches[0][0]
    assert record["eventSourceARN"].endswith(":trigger-check")
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["SentTimestamp"]) > 0
    assert {"messageId", "receiptHandle", "body", "eventSource"} <= set(record)
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert left["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # m1, until its visibility ends


def test_the_template_s_batch_sizes_are_the_mappings(stack: DevStack) -> None:
    assert mapping_batch_sizes() == {"IngestQueueArn": 10, "FetchQueueArn": 1, "BackfillQueueArn": 1}
