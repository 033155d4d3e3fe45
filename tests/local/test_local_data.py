"""Local mode's data path: data.yaml's resources in the emulated AWS, the functions' data settings, the queues'
trigger, and the Terra simulator's data deliveries and backfills, end to end."""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from offline.dev import DevStack, dev_stack
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
